"""One error hierarchy for the whole product.

Every error a user can cause is an ``AppError``: it carries a machine code, a Chinese
and an English message, and (for bad input) the name of the field.  One Litestar
exception handler (``backend.app``) turns it into a JSON problem response; the gate
server turns it into a flag-1 reply; the CLI prints it.  Anything else is a bug and
is logged as such.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of all expected errors.  ``status_code`` is the HTTP status."""

    status_code: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        field: str | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.field = field
        self.code = code or self.default_code
        self.extra = extra or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.zh,
            "message_en": self.en,
        }
        if self.field:
            body["field"] = self.field
        if self.extra:
            body["extra"] = self.extra
        return body

    def __str__(self) -> str:  # what logs and the CLI show
        where = f" [{self.field}]" if self.field else ""
        return f"{self.code}{where}: {self.zh} / {self.en}"


class InvalidInput(AppError):
    """Bad input from a user or a device (HTTP 400)."""

    status_code = 400
    default_code = "invalid_input"


class NotAuthenticated(AppError):
    status_code = 401
    default_code = "not_authenticated"

    def __init__(self, zh: str = "请先登录", en: str = "Please log in", **kw: Any) -> None:
        super().__init__(zh, en, **kw)


class Forbidden(AppError):
    status_code = 403
    default_code = "forbidden"

    def __init__(self, zh: str = "无权访问该资源", en: str = "You may not access this resource", **kw: Any) -> None:
        super().__init__(zh, en, **kw)


class PasswordChangeRequired(Forbidden):
    """The account must change its password (new account, or reset by someone else) before anything else."""

    default_code = "password_change_required"

    def __init__(
        self,
        zh: str = "请先修改密码：新账号或被重置密码的账号须修改密码后才能使用",
        en: str = "Change your password first: a new or reset account must change its password before use",
        **kw: Any,
    ) -> None:
        super().__init__(zh, en, **kw)


class InvalidJSON(InvalidInput):
    """A request body that is not JSON we can read (malformed, nested too deeply, not UTF-8)."""

    default_code = "invalid_json"

    def __init__(
        self,
        zh: str = "请求体不是有效的 JSON（格式错误、嵌套过深或不是 UTF-8 编码）",
        en: str = "The request body is not valid JSON (malformed, nested too deeply or not UTF-8)",
        **kw: Any,
    ) -> None:
        super().__init__(zh, en, **kw)


class NotFound(AppError):
    status_code = 404
    default_code = "not_found"

    def __init__(self, zh: str = "记录不存在", en: str = "Not found", **kw: Any) -> None:
        super().__init__(zh, en, **kw)


class Conflict(AppError):
    """The request is valid but clashes with the current state (HTTP 409)."""

    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    default_code = "payload_too_large"


class RateLimited(AppError):
    status_code = 429
    default_code = "rate_limited"


def invalid(field: str, zh: str, en: str, code: str = "invalid_input", **extra: Any) -> InvalidInput:
    """Shorthand: ``raise invalid("id_number", "身份证号校验位错误", "ID number check digit is wrong")``."""
    return InvalidInput(zh, en, field=field, code=code, extra=extra or None)
