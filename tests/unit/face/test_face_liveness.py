"""Action liveness on synthetic landmark sequences (pure, no dlib, no photos).

Rules checked: issue "Phone clock-in" / seed 000 附件3 §三.3 (移动考勤设备具有活体检测功能): a
challenge of random actions that must be performed in order; a static photo fails.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from backend.face import liveness as lv
from backend.face.engine import FaceAnalysis, Quality
from backend.face.service import assess_liveness
from tests.fixtures.faces import landmark_sequence, synthetic_landmarks

OPEN = {"ear": 0.30}
CLOSED = {"ear": 0.08}
LEFT = {"yaw_deg": 28}  # the PERSON'S left
RIGHT = {"yaw_deg": -28}
MOUTH = {"mar": 0.55}


def seq(*steps, noise=0.4, seed=1):
    return landmark_sequence(list(steps), noise_px=noise, seed=seed)


# ------------------------------------------------------------------------------- measures


def test_measures_on_a_frontal_face():
    lm = synthetic_landmarks()
    assert lv.eye_aspect_ratio(lm) == pytest.approx(0.30, abs=1e-3)
    assert lv.mouth_aspect_ratio(lm) == pytest.approx(0.0, abs=1e-3)
    assert lv.yaw_ratio(lm) == pytest.approx(0.0, abs=1e-3)
    assert lv.roll_degrees(lm) == pytest.approx(0.0, abs=1e-3)
    assert lv.eye_distance(lm) == pytest.approx(90.0, abs=0.5)


def test_eyes_and_mouth():
    assert lv.eye_aspect_ratio(synthetic_landmarks(ear=0.08)) == pytest.approx(0.08, abs=1e-3)
    assert lv.mouth_aspect_ratio(synthetic_landmarks(mar=0.55)) == pytest.approx(0.55, abs=1e-3)


def test_yaw_sign_is_the_persons_left_in_a_non_mirrored_image():
    # Turning to their own left moves the nose tip towards the image's right (larger x).
    left = synthetic_landmarks(yaw_deg=25)
    assert left[30, 0] > synthetic_landmarks()[30, 0]
    assert lv.yaw_ratio(left) > 0.3
    assert lv.yaw_ratio(synthetic_landmarks(yaw_deg=-25)) < -0.3


def test_yaw_does_not_depend_on_roll_or_scale():
    a = lv.yaw_ratio(synthetic_landmarks(yaw_deg=20))
    b = lv.yaw_ratio(synthetic_landmarks(yaw_deg=20, roll_deg=14, unit_px=7, centre=(50, 60)))
    assert a == pytest.approx(b, abs=1e-4)


def test_roll():
    assert lv.roll_degrees(synthetic_landmarks(roll_deg=12)) == pytest.approx(12, abs=0.1)
    assert lv.roll_degrees(synthetic_landmarks(roll_deg=-20)) == pytest.approx(-20, abs=0.1)


def test_shape_residual_ignores_position_scale_rotation():
    a = synthetic_landmarks()
    moved = synthetic_landmarks(roll_deg=9, unit_px=22, centre=(100, 90))
    assert lv.shape_residual(a, moved) < 1e-5
    assert lv.shape_residual(a, synthetic_landmarks(ear=0.05)) > 0.015


def test_landmarks_must_have_68_points():
    with pytest.raises(ValueError):
        lv.eye_aspect_ratio(np.zeros((5, 2)))


# -------------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("steps", "action"),
    [
        ((OPEN, OPEN, CLOSED, OPEN), "blink"),
        ((OPEN, {"yaw_deg": 10}, LEFT, OPEN), "turn_left"),
        ((OPEN, RIGHT, OPEN), "turn_right"),
        ((OPEN, {"mar": 0.2}, MOUTH, OPEN), "open_mouth"),
    ],
)
def test_each_action_is_detected(steps, action):
    passed, details = lv.judge_actions(seq(*steps), [action])
    assert passed, details
    assert details[0].passed and details[0].action == action
    assert details[0].label == lv.ACTION_LABELS[action]


def test_blink_of_narrow_eyes():
    # open EAR 0.21 (common for monolid eyes), closed 0.11: relative thresholds still see it
    passed, _ = lv.judge_actions(seq({"ear": 0.21}, {"ear": 0.21}, {"ear": 0.11}, {"ear": 0.21}), ["blink"])
    assert passed


def test_blink_needs_the_eyes_to_reopen():
    passed, details = lv.judge_actions(seq(OPEN, OPEN, CLOSED, CLOSED), ["blink"])
    assert not passed and details[0].reason == "not_detected"


def test_small_eye_jitter_is_not_a_blink():
    steps = [{"ear": e} for e in (0.30, 0.28, 0.27, 0.29, 0.26, 0.30)]
    assert not lv.judge_actions(seq(*steps), ["blink"])[0]


def test_small_turn_is_not_enough():
    passed, _ = lv.judge_actions(seq(OPEN, {"yaw_deg": 12}, OPEN), ["turn_left"])
    assert not passed


def test_turn_in_the_wrong_direction_fails():
    passed, details = lv.judge_actions(seq(OPEN, RIGHT, OPEN), ["turn_left", "turn_right"])
    assert not passed
    assert details[0].action == "turn_left" and not details[0].passed


def test_actions_in_order_pass():
    s = seq(OPEN, CLOSED, OPEN, {"yaw_deg": 5}, LEFT, OPEN)
    passed, details = lv.judge_actions(s, ["blink", "turn_left"])
    assert passed
    assert details[0].frame_index <= details[1].start_index


def test_actions_in_the_wrong_order_fail():
    s = seq(OPEN, LEFT, OPEN, CLOSED, OPEN)  # turned first, blinked after
    passed, details = lv.judge_actions(s, ["blink", "turn_left"])
    assert not passed
    by = {d.action: d for d in details}
    assert by["blink"].passed
    assert not by["turn_left"].passed and by["turn_left"].reason == "wrong_order"


def test_swing_from_left_straight_to_right():
    passed, _ = lv.judge_actions(seq(OPEN, LEFT, RIGHT, OPEN), ["turn_left", "turn_right"])
    assert passed


def test_frames_without_a_face_are_skipped():
    s = seq(OPEN, None, CLOSED, None, OPEN, None)
    assert lv.judge_actions(s, ["blink"])[0]


def test_unrequested_deliberate_action_fails():
    # A recording that does everything must not pass a two-action challenge.
    s = seq(OPEN, CLOSED, OPEN, LEFT, OPEN, RIGHT, OPEN, MOUTH, OPEN)
    passed, details = lv.judge_actions(s, ["blink", "turn_left"])
    assert not passed
    unexpected = {d.action for d in details if d.reason == "unexpected"}
    assert unexpected == {"turn_right", "open_mouth"}
    assert lv.judge_actions(s, ["blink", "turn_left"], forbid_unrequested=False)[0]


def test_natural_blinks_are_never_unexpected():
    s = seq(OPEN, CLOSED, OPEN, LEFT, OPEN)
    assert lv.judge_actions(s, ["turn_left"])[0]


def test_static_photo_fails_every_action():
    photo = [synthetic_landmarks()] * 8
    for action in lv.ACTIONS:
        passed, details = lv.judge_actions(photo, [action])
        assert not passed and details[0].reason == "not_detected"
    assert lv.is_static(photo)


def test_photo_moved_in_front_of_the_camera_is_static_and_fails():
    # translation, scaling and in-plane rotation of a flat picture: no shape change
    photo = [
        synthetic_landmarks(roll_deg=r, unit_px=u, centre=(c, c))
        for r, u, c in [(0, 15, 240), (5, 16, 250), (-4, 14, 230), (8, 17, 260), (0, 15, 245)]
    ]
    assert lv.is_static(photo)
    assert not lv.judge_actions(photo, ["blink", "turn_left"])[0]


def test_live_sequence_is_not_static():
    assert not lv.is_static(seq(OPEN, CLOSED, OPEN, LEFT))


def test_too_few_face_frames():
    passed, _ = lv.judge_actions([*seq(OPEN, LEFT), None, None], ["turn_left"])
    assert not passed


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        lv.judge_actions(seq(OPEN, OPEN, OPEN), ["smile"])


def test_empty_challenge_never_passes():
    assert not lv.judge_actions(seq(OPEN, OPEN, OPEN), [])[0]


# ----------------------------------------------------------------------------- challenges


def test_challenge_actions_are_distinct_and_known():
    rng = random.Random(7)
    seen = set()
    for _ in range(200):
        acts = lv.new_challenge_actions(rng, 2)
        assert len(acts) == 2 and len(set(acts)) == 2
        assert set(acts) <= set(lv.ACTIONS)
        seen.add(tuple(acts))
    assert len(seen) == 12  # every ordered pair of 4 actions turns up


def test_challenge_defaults_to_system_randomness_and_checks_count():
    assert len(lv.new_challenge_actions()) == 2
    assert sorted(lv.new_challenge_actions(count=4)) == sorted(lv.ACTIONS)
    for bad in (0, 5):
        with pytest.raises(ValueError):
            lv.new_challenge_actions(count=bad)


def test_labels_and_prompt():
    assert lv.ACTIONS == ("blink", "turn_left", "turn_right", "open_mouth")
    assert lv.ACTION_LABELS == {
        "blink": "眨眼",
        "turn_left": "向左转头",
        "turn_right": "向右转头",
        "open_mouth": "张嘴",
    }
    zh, en = lv.challenge_prompt(["blink", "turn_left"])
    assert zh == "请依次：眨眼、向左转头" and "blink" in en


# ------------------------------------------------------------------------------ same face


def test_same_face():
    rng = np.random.default_rng(3)
    base = rng.normal(0, 0.1, 128)
    close = [base + rng.normal(0, 0.01, 128) for _ in range(4)]
    ok, worst = lv.same_face(close, 0.5)
    assert ok and worst < 0.5
    other = base + 0.08  # ≈ 0.9 away
    ok, worst = lv.same_face([*close, other], 0.5)
    assert not ok and worst > 0.5
    assert lv.same_face([base], 0.5) == (True, 0.0)


# ------------------------------------------------------------- assess_liveness (pure part)


def _analyses(steps, encodings, *, face_counts=None):
    lms = seq(*steps)
    out = []
    for i, lm in enumerate(lms):
        n = 0 if lm is None else (face_counts[i] if face_counts else 1)
        q = Quality((480, 640), 1.0, n, None if lm is None else (100, 340, 340, 100), sharpness=100.0)
        out.append(FaceAnalysis(q, landmarks=lm, encoding=None if lm is None else encodings[i]))
    return out


def _encs(n, seed=5, spread=0.01):
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.1, 128)
    return base, [base + rng.normal(0, spread, 128) for _ in range(n)]


def test_assess_liveness_passes_and_picks_a_frontal_open_eyed_frame():
    steps = (OPEN, CLOSED, OPEN, LEFT, OPEN)
    base, encs = _encs(len(steps))
    r = assess_liveness(_analyses(steps, encs), ["blink", "turn_left"], template=base, tolerance=0.5)
    assert r.passed, r.reasons
    assert r.best_frame_index in (0, 2, 4)
    assert r.matched and r.distance < 0.5
    assert r.encoding is not None and len(r.encoding) == 512
    assert r.to_dict()["passed"] is True


def test_assess_liveness_reports_reasons():
    steps = (OPEN, OPEN, OPEN, OPEN)
    base, encs = _encs(len(steps))
    stranger = base + 0.1
    r = assess_liveness(
        _analyses(steps, encs), ["blink", "turn_right"], template=stranger, frame_digests=[b"a", b"a", b"b", b"c"]
    )
    assert not r.passed
    for code in ("identical_frames", "action_missing:blink", "action_missing:turn_right", "face_mismatch"):
        assert code in r.reasons


def test_assess_liveness_different_people_and_multiple_faces():
    steps = (OPEN, CLOSED, OPEN, LEFT, OPEN)
    _, encs = _encs(len(steps))
    encs[3] = encs[3] + 0.1  # someone else turns the head
    r = assess_liveness(_analyses(steps, encs), ["blink", "turn_left"])
    assert "different_faces" in r.reasons and not r.passed
    r = assess_liveness(_analyses(steps, encs, face_counts=[1, 1, 2, 1, 1]), ["blink", "turn_left"])
    assert "multiple_faces" in r.reasons


def test_a_posed_photo_shows_no_action_and_nothing_unexpected():
    # obama2.jpg is turned ~25° to his right and smiling (MAR 0.42): as a static photo it
    # does none of the actions, and its pose is not "an unexpected action" either.
    posed = seq(*[{"yaw_deg": -25, "mar": 0.42}] * 6)
    passed, details = lv.judge_actions(posed, ["blink", "turn_left"])
    assert not passed
    assert [d.reason for d in details] == ["not_detected", "not_detected"]


def test_a_broad_smile_is_not_an_open_mouth():
    passed, _ = lv.judge_actions(seq(OPEN, {"mar": 0.42}, OPEN), ["open_mouth"])
    assert not passed


def test_turn_counts_from_where_the_head_was():
    # phone held a little to the side: the worker starts at 15° to the right
    side = {"yaw_deg": -15}
    assert lv.judge_actions(seq(side, side, {"yaw_deg": 15}, side), ["turn_left"])[0]
    assert not lv.judge_actions(seq(side, side, {"yaw_deg": 5}, side), ["turn_left"])[0]


def test_overshooting_the_way_back_is_not_an_unexpected_turn():
    s = seq(OPEN, LEFT, {"yaw_deg": -12}, OPEN, CLOSED, OPEN)
    passed, details = lv.judge_actions(s, ["turn_left", "blink"])
    assert passed, details


# ------------------------------------------------- following the face between encoded frames


def test_steady_motion_ignores_blinks_and_the_mouth_but_not_moves_or_turns():
    # engine.STEADY_SHIFT / STEADY_SCALE decide when the box of an earlier frame is kept
    from backend.face.engine import STEADY_SCALE, STEADY_SHIFT

    still = synthetic_landmarks()
    assert lv.steady_motion(still, still) == (0.0, 0.0)
    shift, spread = lv.steady_motion(still, synthetic_landmarks(ear=0.08, mar=0.6))
    assert shift < STEADY_SHIFT / 2 and spread < STEADY_SCALE / 2
    moved = synthetic_landmarks(centre=(260.0, 300.0))  # 20 px, for a face 210 px wide
    assert lv.steady_motion(still, moved)[0] > STEADY_SHIFT
    nearer = synthetic_landmarks(unit_px=17.0)
    assert lv.steady_motion(still, nearer)[1] > STEADY_SCALE
    # a head turn foreshortens the eye corners: a clear turn (≥ 25°) is motion, a slight one is not
    assert lv.steady_motion(still, synthetic_landmarks(yaw_deg=30))[1] > STEADY_SCALE
    assert lv.steady_motion(still, synthetic_landmarks(yaw_deg=10))[0] < STEADY_SHIFT
    assert lv.steady_motion(still, synthetic_landmarks(yaw_deg=10))[1] < STEADY_SCALE


def test_track_breaks():
    steps = [OPEN, CLOSED, OPEN, LEFT, OPEN]
    assert lv.track_breaks(seq(*steps)) == []
    # frames without a face in between: the face may have changed there
    assert lv.track_breaks(seq(OPEN, None, None, OPEN, OPEN)) == [(0, 3)]
    # a jump of a whole face width between two frames, or a face twice the size
    lms = seq(*steps)
    lms[3] = synthetic_landmarks(centre=(400.0, 300.0))
    assert (2, 3) in lv.track_breaks(lms) and (3, 4) in lv.track_breaks(lms)
    lms = seq(*steps)
    lms[4] = synthetic_landmarks(unit_px=30.0)
    assert lv.track_breaks(lms) == [(3, 4)]


def _quick(steps):
    """What the quick look gives: landmarks and quality, no encodings."""
    return _analyses(steps, [None] * len(steps))


def test_encoding_frames_are_the_match_frame_and_the_action_a_photo_cannot_fake():
    from backend.face.service import encoding_frames

    steps = (OPEN, OPEN, LEFT, OPEN, MOUTH, OPEN)
    picks = encoding_frames(_quick(steps), ["turn_left", "open_mouth"])
    assert len(picks) == 2 and picks[1] == 4  # the open mouth, not the turn
    assert picks[0] in (0, 1, 3, 5)  # frontal, eyes open, mouth closed
    picks = encoding_frames(_quick((OPEN, RIGHT, OPEN, LEFT, OPEN)), ["turn_right", "turn_left"])
    assert len(picks) == 2 and picks[1] == 1


def test_the_frame_where_the_eyes_reopen_is_the_match_frame():
    from backend.face.service import encoding_frames

    steps = (OPEN, OPEN, LEFT, OPEN, CLOSED, OPEN, OPEN)
    picks = encoding_frames(_quick(steps), ["turn_left", "blink"])
    _, details = lv.judge_actions(seq(*steps), ["turn_left", "blink"])
    assert picks == [details[1].frame_index]  # one encoding: the blink frame is matched itself


def test_encoding_frames_add_both_sides_of_a_break():
    from backend.face.service import ENCODED_FRAMES_MAX, encoding_frames

    steps = (OPEN, OPEN, None, OPEN, CLOSED, OPEN, LEFT, OPEN)
    picks = encoding_frames(_quick(steps), ["blink", "turn_left"])
    assert {1, 3} <= set(picks) and len(picks) <= ENCODED_FRAMES_MAX
    assert encoding_frames(_quick((None, None)), ["blink"]) == []
