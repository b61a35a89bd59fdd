"""Spoofing signals: review flags over one person's recent fixes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geofence import FenceError, Fix, clock_skewed, geodesic_offset, spoof_signals

NOW = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)  # 08:30 Beijing time
SITE = (113.0800, 22.5800)


def fix(lon: float = SITE[0], lat: float = SITE[1], accuracy: float = 12.34, seconds_ago: float = 0.0) -> Fix:
    return Fix(lon, lat, accuracy, NOW - timedelta(seconds=seconds_ago))


def test_a_normal_fix_raises_no_signal() -> None:
    earlier = [fix(*geodesic_offset(*SITE, 30.0, 40.0), 8.7, seconds_ago=3600)]
    assert spoof_signals(fix(), earlier, NOW) == ()


def test_device_clock_more_than_120s_off_the_server_clock_is_clock_skew() -> None:
    assert spoof_signals(fix(seconds_ago=-121), [], NOW) == ("clock_skew",)  # device ahead
    # device behind: seen through the send time (without one, a capture time behind is upload latency)
    assert spoof_signals(fix(seconds_ago=121), [], NOW, device_sent_at=NOW - timedelta(seconds=121)) == (
        "clock_skew",)
    assert spoof_signals(fix(seconds_ago=-119), [], NOW) == ()


def test_clock_skew_one_rule_without_a_send_time_only_a_clock_ahead_counts() -> None:
    """Issue 14 item 10: one clock-skew rule (geofence.clock_skewed) for the fence judge and the attendance
    path; a capture time behind the server with no send time is an upload that waited, not skew."""
    assert clock_skewed(NOW + timedelta(seconds=121), NOW, 120.0)
    assert not clock_skewed(NOW + timedelta(seconds=120), NOW, 120.0)
    assert not clock_skewed(NOW - timedelta(hours=1), NOW, 120.0)  # waited in the outbox: late_upload
    assert spoof_signals(fix(seconds_ago=121), [], NOW) == ()
    assert clock_skewed(NOW - timedelta(hours=1), NOW, 120.0, device_sent_at=NOW - timedelta(seconds=121))
    assert not clock_skewed(NOW - timedelta(hours=1), NOW, 120.0, device_sent_at=NOW - timedelta(seconds=2))


def test_clock_skew_uses_the_device_send_time_when_given_so_offline_uploads_are_not_skew() -> None:
    queued_for_an_hour = fix(seconds_ago=3600)
    assert spoof_signals(queued_for_an_hour, [], NOW, device_sent_at=NOW - timedelta(seconds=2)) == ()
    assert spoof_signals(queued_for_an_hour, [], NOW, device_sent_at=NOW + timedelta(minutes=5)) == ("clock_skew",)


def test_travel_faster_than_120_kmh_between_consecutive_punches_is_impossible_speed() -> None:
    ten_km_away = fix(*geodesic_offset(*SITE, 90.0, 10_000.0), 5.0, seconds_ago=60)  # 600 km/h
    assert spoof_signals(fix(accuracy=5.0), [ten_km_away], NOW) == ("impossible_speed",)


def test_plausible_travel_is_not_impossible_speed() -> None:
    ten_km_away = fix(*geodesic_offset(*SITE, 90.0, 10_000.0), 5.0, seconds_ago=600)  # 60 km/h
    assert spoof_signals(fix(accuracy=5.0), [ten_km_away], NOW) == ()


def test_gps_jitter_within_the_accuracy_radii_is_not_speed() -> None:
    jitter = fix(*geodesic_offset(*SITE, 0.0, 25.0), 15.0, seconds_ago=1)  # 25 m in 1 s, ±15 m each
    assert spoof_signals(fix(accuracy=15.0), [jitter], NOW) == ()


def test_only_the_neighbouring_punches_in_time_are_compared_for_speed() -> None:
    far_long_ago = fix(*geodesic_offset(*SITE, 90.0, 50_000.0), 5.0, seconds_ago=600)
    near_recent = fix(*geodesic_offset(*SITE, 90.0, 100.0), 5.0, seconds_ago=300)
    # 50 km in 5 min between the two older fixes is not this fix's business.
    assert spoof_signals(fix(accuracy=5.0), [far_long_ago, near_recent], NOW) == ()


def test_a_late_arriving_fix_is_compared_with_the_next_punch_too() -> None:
    next_punch = Fix(*geodesic_offset(*SITE, 90.0, 20_000.0), 5.0, NOW)
    late = fix(accuracy=5.0, seconds_ago=60)
    assert "impossible_speed" in spoof_signals(late, [next_punch], NOW, clock_skew_max_s=3600)


def test_exactly_repeated_coordinates_of_an_earlier_fix_are_flagged() -> None:
    earlier = [fix(113.0812345678901, 22.5798765432109, 9.1, seconds_ago=86_400)]
    same = fix(113.0812345678901, 22.5798765432109, 8.4)
    assert spoof_signals(same, earlier, NOW) == ("repeated_coordinates",)
    nearly = fix(113.0812345678902, 22.5798765432109, 8.4)
    assert spoof_signals(nearly, earlier, NOW) == ()


def test_accuracy_exactly_zero_is_suspicious() -> None:
    assert spoof_signals(fix(accuracy=0.0), [], NOW) == ("suspicious_accuracy",)


def test_a_single_round_accuracy_is_not_suspicious() -> None:
    earlier = fix(*geodesic_offset(*SITE, 0.0, 30.0), 8.3, seconds_ago=3600)
    assert spoof_signals(fix(accuracy=10.0), [earlier], NOW) == ()


def test_the_same_round_accuracy_three_punches_in_a_row_is_suspicious() -> None:
    history = [
        fix(*geodesic_offset(*SITE, 0.0, 30.0), 20.0, seconds_ago=7200),
        fix(*geodesic_offset(*SITE, 0.0, 60.0), 20.0, seconds_ago=3600),
    ]
    assert spoof_signals(fix(accuracy=20.0), history, NOW) == ("suspicious_accuracy",)
    # The same run of a non-round value is normal (iOS reports 65 m, 5 m ...).
    history65 = [f.__class__(f.lon, f.lat, 65.0, f.captured_at) for f in history]
    assert spoof_signals(fix(accuracy=65.0), history65, NOW) == ()


def test_round_accuracy_run_of_1_flags_every_round_value() -> None:
    assert spoof_signals(fix(accuracy=30.0), [], NOW, round_accuracy_run=1) == ("suspicious_accuracy",)


def test_several_signals_are_returned_together() -> None:
    earlier = [fix(113.09, 22.59, 0.0, seconds_ago=10)]
    signals = spoof_signals(Fix(113.09, 22.59, 0.0, NOW + timedelta(hours=1)), earlier, NOW)
    assert set(signals) == {"clock_skew", "repeated_coordinates", "suspicious_accuracy"}


def test_fix_needs_a_timezone_aware_capture_time() -> None:
    with pytest.raises(FenceError) as info:
        Fix(113.0, 22.5, 5.0, datetime(2026, 1, 1))
    assert info.value.code == "naive_datetime"
