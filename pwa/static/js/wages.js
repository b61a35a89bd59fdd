// Wage pages: ask before a submit that locks the payroll (buttons with data-confirm).
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-confirm]");
  if (b && !window.confirm(b.dataset.confirm)) ev.preventDefault();
});
