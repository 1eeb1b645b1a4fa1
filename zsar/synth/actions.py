"""The synthetic actions: each a distinct joint-angle motion of the stick figure.

An action maps ``(t, q, style)`` to a ``Pose``: ``t`` is the phase in cycles (the motion
repeats every 1.0), ``q`` in [0, 1] is the progress through the clip (for one-shot actions
such as "sit down"), and ``style`` carries the per-clip amplitude and the leading side.
``ACTIONS`` is ordered: ``zsar synth --classes N`` takes the first N. The set mixes
single motions with compositions of them ("jump and clap" = jump's legs with clap's
arms), so that label text and motion share structure; zero-shot transfer to an unseen
class needs exactly that, and without it the demo's accuracy stays near chance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from zsar.synth.figure import Limb, Pose

TAU = 2.0 * math.pi


@dataclass(frozen=True)
class Style:
    """Per-clip variation of a motion: amplitude factor and leading side (+1 left, -1 right)."""

    amp: float = 1.0
    side: float = 1.0


@dataclass(frozen=True)
class Action:
    """A named motion. ``rate`` is its base speed in cycles per second."""

    name: str
    pose: Callable[[float, float, Style], Pose]
    rate: float = 1.0


def _wave(t: float) -> float:
    """sin of the phase, in [-1, 1]."""
    return math.sin(TAU * t)


def _pulse(t: float) -> float:
    """A smooth 0 -> 1 -> 0 bump each cycle."""
    return 0.5 - 0.5 * math.cos(TAU * t)


def _ease(q: float) -> float:
    """0 for the first fifth of the clip, a smooth rise, 1 for the last fifth."""
    x = min(max((q - 0.2) / 0.6, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _arms(left: Limb, right: Limb, s: Style) -> dict[str, Limb]:
    """Assign the leading/other arm by the clip's side."""
    return {"left_arm": left, "right_arm": right} if s.side > 0 else {"left_arm": right, "right_arm": left}


def _legs(left: Limb, right: Limb, s: Style) -> dict[str, Limb]:
    return {"left_leg": left, "right_leg": right} if s.side > 0 else {"left_leg": right, "right_leg": left}


REST_ARM = Limb(0.15, 0.1)
REST_LEG = Limb(0.05, 0.0)


def jumping_jacks(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t)
    arm, leg = Limb(0.2 + 2.6 * u * s.amp, 0.1), Limb(0.05 + 0.35 * u * s.amp, 0.0)
    return Pose(view="front", y=0.06 * abs(_wave(t)), left_arm=arm, right_arm=arm, left_leg=leg, right_leg=leg)


def _waving_arm(t: float, s: Style) -> Limb:
    w = _wave(t) * s.amp
    return Limb(2.4 + 0.25 * w, 0.3 + 0.9 * w)


def wave_hand(t: float, q: float, s: Style) -> Pose:
    waving = _waving_arm(t, s)
    return Pose(view="front", **_arms(waving, REST_ARM, s), left_leg=REST_LEG, right_leg=REST_LEG)


def wave_both_hands(t: float, q: float, s: Style) -> Pose:
    waving = _waving_arm(t, s)
    return Pose(view="front", left_arm=waving, right_arm=waving, left_leg=REST_LEG, right_leg=REST_LEG)


def squat(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    leg = Limb(1.3 * u, 2.2 * u)
    arm = Limb(1.5 * u, 0.0)
    drop = 0.46 * (1 - math.cos(1.1 * u)) * 0.9
    return Pose(view="side", y=-drop, lean=0.45 * u, left_arm=arm, right_arm=arm, left_leg=leg, right_leg=leg)


def clap_hands(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t)
    arm = Limb(0.9, 0.6 - 2.3 * u * s.amp)
    return Pose(view="front", left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def kick(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    kicking = Limb(1.5 * u, 1.2 * (1 - u) * (u > 0.05))
    return Pose(view="side", lean=-0.25 * u, **_legs(kicking, REST_LEG, s),
                left_arm=Limb(-0.4 * u, 0.3), right_arm=Limb(0.5 * u, 0.3))


def punch(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) ** 2  # a quick jab from the guard position and back
    jab = Limb(0.6 + 1.0 * u * s.amp, 2.3 * (1 - u))
    guard = Limb(0.6, 2.3)
    return Pose(view="side", lean=0.1 + 0.15 * u, left_arm=jab, right_arm=guard,
                **_legs(Limb(0.3, 0.1), Limb(-0.3, 0.2), s))


def walk(t: float, q: float, s: Style) -> Pose:
    w = _wave(t) * s.amp
    return Pose(view="side", x=0.25 * (q - 0.5), y=0.02 * abs(w),
                left_arm=Limb(0.45 * w, 0.3), right_arm=Limb(-0.45 * w, 0.3),
                left_leg=Limb(-0.45 * w, 0.3 * max(0.0, w)), right_leg=Limb(0.45 * w, 0.3 * max(0.0, -w)))


def run(t: float, q: float, s: Style) -> Pose:
    w = _wave(t) * s.amp
    return Pose(view="side", x=0.5 * (q - 0.5), y=0.07 * abs(w), lean=0.3,
                left_arm=Limb(0.9 * w, 1.6), right_arm=Limb(-0.9 * w, 1.6),
                left_leg=Limb(-0.9 * w, 1.3 * max(0.0, w) + 0.2),
                right_leg=Limb(0.9 * w, 1.3 * max(0.0, -w) + 0.2))


def jump(t: float, q: float, s: Style) -> Pose:
    w = _wave(t)
    air = max(0.0, w) * s.amp
    crouch = max(0.0, -w)
    leg = Limb(0.6 * crouch, 1.1 * crouch)
    arm = Limb(2.6 * air + 0.2, 0.1)
    return Pose(view="front", y=0.28 * air - 0.08 * crouch, left_arm=arm, right_arm=arm, left_leg=leg, right_leg=leg)


def bend_over(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    arm = Limb(1.4 * u, 0.0)
    return Pose(view="side", lean=1.4 * u, left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def _seated(u: float) -> dict[str, object]:
    leg = Limb(1.5 * u, 1.5 * u)
    arm = Limb(0.8 * u, 0.6 * u)
    return {"y": -0.2 * u, "lean": 0.35 * u * (1 - u) + 0.1 * u, "left_leg": leg, "right_leg": leg,
            "left_arm": arm, "right_arm": arm}


def sit_down(t: float, q: float, s: Style) -> Pose:
    return Pose(view="side", **_seated(_ease(q)))


def stand_up(t: float, q: float, s: Style) -> Pose:
    return Pose(view="side", **_seated(1.0 - _ease(q)))


def raise_both_arms(t: float, q: float, s: Style) -> Pose:
    arm = Limb(0.15 + 2.85 * _pulse(t) * s.amp, 0.0)
    return Pose(view="front", left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def turn_around(t: float, q: float, s: Style) -> Pose:
    arm = Limb(1.3, 0.3)  # arms held out so the turn shows as the figure narrowing and widening
    return Pose(view="front", width=math.cos(math.pi * t), left_arm=arm, right_arm=arm,
                left_leg=Limb(0.15, 0.0), right_leg=Limb(0.15, 0.0))


def push_up(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    rot = math.pi / 2 - 0.45 + 0.15 * u  # feet on the ground, hands under the shoulders
    arm = Limb(rot - 0.6 * u, 1.2 * u)
    return Pose(view="side", rot=rot, y=-0.24 - 0.08 * u, left_arm=arm, right_arm=arm,
                left_leg=REST_LEG, right_leg=REST_LEG)


def stretch_arms(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    arm = Limb(math.pi / 2, 2.0 * (1 - u))
    return Pose(view="front", left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def hop_on_one_leg(t: float, q: float, s: Style) -> Pose:
    air = abs(_wave(t)) * s.amp
    crouch = 1.0 - air  # the standing leg bends before each take-off, the arms pump
    return Pose(view="side", y=0.12 * air - 0.05 * crouch,
                **_legs(Limb(0.5 + 0.4 * air, 1.7), Limb(0.4 * crouch, 0.9 * crouch), s),
                left_arm=Limb(0.3 + 0.8 * air, 0.6), right_arm=Limb(0.3 + 0.8 * air, 0.6))


def march_in_place(t: float, q: float, s: Style) -> Pose:
    u, v = _pulse(t), _pulse(t + 0.5)
    return Pose(view="side", left_leg=Limb(1.3 * u * s.amp, 1.5 * u), right_leg=Limb(1.3 * v * s.amp, 1.5 * v),
                left_arm=Limb(1.0 * v - 0.3, 1.2), right_arm=Limb(1.0 * u - 0.3, 1.2))


def swing_arms(t: float, q: float, s: Style) -> Pose:
    arm = Limb(1.4 * _wave(t) * s.amp, 0.1)
    return Pose(view="side", left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def lunge(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t) * s.amp
    return Pose(view="side", y=-0.13 * u, **_legs(Limb(1.1 * u, 1.2 * u), Limb(-0.7 * u, 0.3 * u), s),
                left_arm=Limb(0.2, 1.4), right_arm=Limb(0.2, 1.4))


def arm_circles(t: float, q: float, s: Style) -> Pose:
    arm = Limb(math.pi / 2 + 0.7 * _wave(t) * s.amp, 0.7 * math.cos(TAU * t) * s.amp)
    return Pose(view="front", left_arm=arm, right_arm=arm, left_leg=REST_LEG, right_leg=REST_LEG)


def side_bend(t: float, q: float, s: Style) -> Pose:
    w = _wave(t) * s.amp
    return Pose(view="front", lean=0.55 * w, left_arm=Limb(0.2 + 2.3 * max(0.0, -w), 0.3),
                right_arm=Limb(0.2 + 2.3 * max(0.0, w), 0.3), left_leg=REST_LEG, right_leg=REST_LEG)


def throw(t: float, q: float, s: Style) -> Pose:
    u = _pulse(t)
    throwing = Limb(-1.0 + 3.4 * u * s.amp, 0.8 * (1 - u))
    return Pose(view="side", lean=-0.2 + 0.5 * u, left_arm=throwing, right_arm=Limb(0.6 - 0.6 * u, 0.4),
                left_leg=Limb(0.4, 0.1), right_leg=Limb(-0.3, 0.1))


PoseFn = Callable[[float, float, Style], Pose]


def compose(body: PoseFn, arms: PoseFn) -> PoseFn:
    """An action doing ``body``'s motion (view, hips, legs, torso) with ``arms``' arm motion.

    "jump and clap" is ``compose(jump, clap_hands)``: its label text and its motion share
    parts with "jump" and "clap hands", the structure zero-shot transfer relies on.
    """

    def pose(t: float, q: float, s: Style) -> Pose:
        arm_pose = arms(t, q, s)
        return replace(body(t, q, s), left_arm=arm_pose.left_arm, right_arm=arm_pose.right_arm)

    return pose


# The first 14 are single motions named as in real datasets; then compositions, so the
# default 20 classes already pair related names with related motions.
ACTIONS: tuple[Action, ...] = (
    Action("jumping jacks", jumping_jacks, 1.2),
    Action("wave hand", wave_hand, 1.6),
    Action("squat", squat, 0.8),
    Action("clap hands", clap_hands, 1.6),
    Action("kick", kick, 0.9),
    Action("punch", punch, 1.5),
    Action("walk", walk, 1.0),
    Action("run", run, 1.8),
    Action("jump", jump, 1.0),
    Action("bend over", bend_over, 0.6),
    Action("sit down", sit_down, 1.0),
    Action("stand up", stand_up, 1.0),
    Action("raise both arms", raise_both_arms, 0.8),
    Action("push up", push_up, 0.9),
    Action("jump and clap", compose(jump, clap_hands), 1.0),
    Action("walk and wave", compose(walk, wave_hand), 1.0),
    Action("squat and raise arms", compose(squat, raise_both_arms), 0.8),
    Action("jump and wave", compose(jump, wave_hand), 1.0),
    Action("walk and clap", compose(walk, clap_hands), 1.0),
    Action("squat and clap", compose(squat, clap_hands), 0.8),
    Action("turn around", turn_around, 0.6),
    Action("stretch arms", stretch_arms, 0.8),
    Action("hop on one leg", hop_on_one_leg, 1.4),
    Action("march in place", march_in_place, 1.0),
    Action("swing arms", swing_arms, 1.0),
    Action("lunge", lunge, 0.7),
    Action("arm circles", arm_circles, 1.5),
    Action("side bend", side_bend, 0.7),
    Action("throw", throw, 0.9),
    Action("wave both hands", wave_both_hands, 1.6),
    Action("jump and raise arms", compose(jump, raise_both_arms), 1.0),
    Action("walk and raise arms", compose(walk, raise_both_arms), 1.0),
    Action("squat and wave", compose(squat, wave_hand), 0.8),
    Action("march and wave", compose(march_in_place, wave_hand), 1.0),
    Action("march and clap", compose(march_in_place, clap_hands), 1.0),
    Action("run and wave", compose(run, wave_hand), 1.8),
    Action("hop and clap", compose(hop_on_one_leg, clap_hands), 1.4),
    Action("lunge and punch", compose(lunge, punch), 0.7),
    Action("walk and punch", compose(walk, punch), 1.0),
)


def action_folder(name: str) -> str:
    """The HMDB51-style folder name of an action: ``"wave hand"`` -> ``"wave_hand"``."""
    return name.replace(" ", "_")
