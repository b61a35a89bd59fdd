"""Chinese and English texts for every face code (quality problems, input errors, liveness
reasons).  The codes are the API; the texts are what the worker or the foreman reads."""

from __future__ import annotations

from backend.face.liveness import ACTION_LABELS, ACTION_LABELS_EN

MESSAGES: dict[str, tuple[str, str]] = {
    # quality (seed 002 附件1 一.2 and our light/sharpness rules)
    "no_face": ("未检测到人脸，请正对镜头", "No face found; please face the camera"),
    "multiple_faces": ("画面中有多张人脸，请确保只有本人入镜", "Several faces in the picture; only you may be in it"),
    "face_too_small": ("人脸太小，请靠近镜头", "The face is too small; please come closer"),
    "face_at_border": ("人脸太靠近画面边缘，请将脸部置于画面中央", "The face is too close to the edge; centre it"),
    "face_tilted": ("头部倾斜过大，请保持头部竖直", "The head is tilted; please hold it upright"),
    "face_turned": ("请正对镜头，不要侧脸", "Please face the camera squarely, not sideways"),
    "too_dark": ("光线太暗，请到明亮处拍摄", "Too dark; please move to a brighter place"),
    "backlit": ("逆光，脸部太暗，请面向光源", "Backlit: the face is too dark; please face the light"),
    "blurred": ("照片模糊，请保持手机稳定并对焦", "The photo is blurred; hold the phone still"),
    # input
    "invalid_image": ("无法识别的图片文件", "This is not a readable image"),
    "unsupported_format": ("图片格式不支持，请使用 JPG 或 PNG", "Unsupported image format; use JPG or PNG"),
    "image_too_large": ("图片像素过多", "The image has too many pixels"),
    "payload_too_large": ("图片文件过大", "The image file is too large"),
    "invalid_template": ("人脸模板数据无效", "The face template is not valid"),
    "image_unprocessable": ("图片无法处理，请重新拍摄", "The image could not be processed; please take another"),
    "no_frames": ("未收到活体检测画面", "No liveness frames were sent"),
    "too_many_frames": ("活体检测画面过多", "Too many liveness frames"),
    "no_actions": ("未指定活体检测动作", "No liveness actions were given"),
    "unknown_action": ("未知的活体检测动作", "Unknown liveness action"),
    # liveness reasons
    "too_few_faces": ("检测到人脸的画面太少，请正对镜头完成动作", "Too few frames show a face"),
    "no_good_frame": ("没有一帧清晰的正脸照片", "No frame shows a clear frontal face"),
    "identical_frames": ("画面完全相同（疑似翻拍或伪造）", "Identical frames (replayed or forged)"),
    "static_frames": ("画面中人脸没有任何变化（疑似照片）", "The face never changes (a photo?)"),
    "different_faces": ("画面中出现了不同的人", "The frames show different people"),
    "face_mismatch": ("人脸与登记照片不符", "The face does not match the enrolled photo"),
}


def message(code: str) -> tuple[str, str]:
    """(zh, en) for a code, including ``action_missing:blink``-style liveness reasons."""
    if code in MESSAGES:
        return MESSAGES[code]
    kind, _, action = code.partition(":")
    zh_a, en_a = ACTION_LABELS.get(action, action), ACTION_LABELS_EN.get(action, action)
    if kind == "action_missing":
        return f"未检测到动作：{zh_a}", f"Action not seen: {en_a}"
    if kind == "action_order":
        return f"动作顺序不对：{zh_a}", f"Action in the wrong order: {en_a}"
    if kind == "unexpected_action":
        return f"做了未要求的动作：{zh_a}", f"An action that was not asked for: {en_a}"
    return code, code
