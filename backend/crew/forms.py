"""Multipart form → service inputs (shared by the JSON API and the htmx pages).  Unknown or
ill-typed values are refused with the field named; nothing is silently dropped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar.datastructures import UploadFile

from backend import money
from backend.crew import validation as v
from backend.crew.services import ContractIn, IdStep, RosterStep
from backend.errors import invalid
from backend.validators import check_plain_text
from backend.vocabulary import WAGE_UNIT_ZH, WorkRole


def text(form: Any, name: str, max_len: int = 200) -> str:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise invalid(name, f"字段 {name} 应为文本", f"Field {name} must be text")
    raw = str(value or "")
    check_plain_text(raw, name, multiline=True)  # control/invisible characters refused at the door
    out = raw.strip()
    if len(out) > max_len:
        raise invalid(name, f"字段 {name} 过长（上限 {max_len} 个字符）", f"Field {name} is too long (max {max_len})")
    return out


def opt_int(form: Any, name: str) -> int | None:
    raw = text(form, name, 20)
    if not raw:
        return None
    if not raw.isdigit():
        raise invalid(name, f"字段 {name} 应为整数", f"Field {name} must be an integer")
    return int(raw)


def flag(form: Any, name: str) -> bool:
    return text(form, name, 10).lower() in ("1", "true", "on", "yes")


async def upload(form: Any, name: str) -> tuple[bytes | None, str]:
    item = form.get(name)
    if item is None or item == "":
        return None, ""
    if not isinstance(item, UploadFile):
        raise invalid(name, f"字段 {name} 应为文件", f"Field {name} must be a file")
    data = await item.read()
    return (data or None), (item.filename or "")


async def uploads(form: Any, name: str) -> list[bytes]:
    items = form.getall(name) if hasattr(form, "getall") else [form.get(name)]
    out = []
    for item in items:
        if isinstance(item, UploadFile):
            out.append(await item.read())
        elif item not in (None, ""):
            raise invalid(name, f"字段 {name} 应为文件", f"Field {name} must be a file")
    return out


def moment(form: Any, name: str) -> datetime:
    raw = text(form, name, 40)
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, f"字段 {name} 应为 ISO 8601 时间", f"Field {name} must be an ISO 8601 time") from None
    if dt.tzinfo is None:
        raise invalid(name, "时间须带时区", "The time needs a time zone")
    return dt


ID_FIELDS = ("id_number", "name", "gender", "ethnicity", "birth_date", "address", "issuer", "id_valid_from",
             "id_valid_until", "id_long_term")


async def id_step(form: Any) -> IdStep:
    long_term = flag(form, "id_long_term") or text(form, "id_valid_until") in v.LONG_TERM_WORDS
    card = v.IdCard(
        id_number=text(form, "id_number", 30), name=text(form, "name", 60), gender=text(form, "gender", 4) or None,
        ethnicity=text(form, "ethnicity", 10) or "01",
        birth_date=v.parse_date(text(form, "birth_date", 20), "birth_date", "出生日期"),
        address=text(form, "address", 200), issuer=text(form, "issuer", 60),
        valid_from=v.parse_date(text(form, "id_valid_from", 20), "id_valid_from", "有效期起始日期"),
        valid_until=None if long_term else v.parse_date(text(form, "id_valid_until", 20), "id_valid_until",
                                                        "有效期截止日期"),
        long_term=long_term,
    )
    front, front_name = await upload(form, "id_front")
    back, back_name = await upload(form, "id_back")
    return IdStep(card=card, front=front, back=back, front_name=front_name, back_name=back_name)


async def contract(form: Any, *, required: bool) -> ContractIn | None:
    data, filename = await upload(form, "contract_file")
    ctype = text(form, "contract_type", 20)
    if data is None and not required:
        if ctype and (text(form, "starts_on", 20) or text(form, "contract_no", 60)):
            raise invalid("contract_file", "已填写合同信息，请上传合同文件（PDF 或照片）",
                          "Contract details were given: upload the contract file", code="file_required")
        return None
    return ContractIn(
        contract_type=ctype or "fixed_term",
        starts_on=v.parse_date(text(form, "starts_on", 20), "starts_on", "合同开始日期"),
        ends_on=v.parse_date(text(form, "ends_on", 20), "ends_on", "合同结束日期"),
        signed_on=v.parse_date(text(form, "signed_on", 20), "signed_on", "签订日期"),
        contract_no=text(form, "contract_no", 60), data=data, filename=filename,
        **wage_terms(text(form, "wage_unit", 8), text(form, "wage_rate", 20)),
    )


def wage_terms(unit: str, rate: str) -> dict[str, Any]:
    """计量单位 / 计量单价 of a labour contract (seed 001 §2.9), both or neither: the rate as exact fen."""
    if not unit and not rate:
        return {}
    if unit not in WAGE_UNIT_ZH:
        raise invalid("wage_unit", "请选择计量单位：" + " / ".join(WAGE_UNIT_ZH.values()),
                      "Choose the wage unit: " + ", ".join(WAGE_UNIT_ZH), code="wage_unit_missing")
    if not rate:
        raise invalid("wage_rate", "已选计量单位，请填写计量单价（元）", "A wage unit needs its rate (yuan)")
    return {"wage_unit": unit, "wage_rate_fen": money.to_fen(rate, field="wage_rate", label="计量单价")}


async def roster_step(form: Any) -> RosterStep:
    return RosterStep(
        unit_id=opt_int(form, "unit_id"), team_id=opt_int(form, "team_id"),
        work_role=text(form, "work_role", 10) or WorkRole.worker, post=text(form, "post", 40) or None,
        work_type=text(form, "work_type", 8) or None,
        entered_on=v.parse_date(text(form, "entered_on", 20), "entered_on", "进场日期"),
        phone=text(form, "phone", 20) or None, contract=await contract(form, required=False),
    )
