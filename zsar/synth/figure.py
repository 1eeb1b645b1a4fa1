"""A 2-D stick figure: pose parameters, forward kinematics and drawing.

Angles are radians measured from world-down towards the figure's forward axis ``+u``
(``v`` points up), so a segment at angle ``phi`` has direction ``(sin phi, -cos phi)``:
0 hangs down, pi/2 points forward (side view) or outward (front view), pi points up.
Body-part angles in ``Pose`` are relative: legs to the pelvis, the torso to the legs,
arms to the torso, forearms and shins to their upper segment.

In the ``front`` view each side mirrors its lateral axis (left limbs go to ``+u``,
right limbs to ``-u``) and a torso lean is a side bend; in the ``side`` view both sides
swing in the same plane and a lean is a forward bend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

# Segment lengths as fractions of the figure's height (head top to soles when upright).
SEGMENTS = {
    "torso": 0.30, "neck": 0.04, "head_radius": 0.06, "upper_arm": 0.15, "forearm": 0.14,
    "thigh": 0.23, "shin": 0.23, "shoulder_width": 0.16, "hip_width": 0.10,
}
HIP_HEIGHT = SEGMENTS["thigh"] + SEGMENTS["shin"]


@dataclass(frozen=True)
class Limb:
    """A two-segment limb: the upper segment's angle and the bend of the lower one."""

    angle: float = 0.0
    bend: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Pose:
    """One frame of the figure, in units of its height.

    ``x``/``y`` move the hips (``y`` up), ``rot`` tilts the whole body forward, ``lean``
    bends the torso over the hips, ``width`` scales the lateral axis (``cos`` of a turn).
    """

    view: str = "front"
    x: float = 0.0
    y: float = 0.0
    rot: float = 0.0
    lean: float = 0.0
    nod: float = 0.0
    width: float = 1.0
    left_arm: Limb = field(default_factory=Limb)
    right_arm: Limb = field(default_factory=Limb)
    left_leg: Limb = field(default_factory=Limb)
    right_leg: Limb = field(default_factory=Limb)


@dataclass(frozen=True)
class Skeleton:
    """2-D joint positions (u, v) in units of figure height, hips at the origin before ``x, y``."""

    head: tuple[float, float]
    head_radius: float
    lines: tuple[tuple[tuple[float, float], tuple[float, float]], ...]


def _direction(phi: float) -> np.ndarray:
    return np.array([math.sin(phi), -math.cos(phi)])


def _limb(origin: np.ndarray, phi: float, bend: float,
          lengths: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Joint and tip of a two-segment limb leaving ``origin`` at world angle ``phi``."""
    joint = origin + lengths[0] * _direction(phi)
    return joint, joint + lengths[1] * _direction(phi + bend)


def forward_kinematics(pose: Pose, proportions: dict[str, float] | None = None) -> Skeleton:
    """Joint positions of ``pose``; ``proportions`` scales individual segment lengths.

    A limb angle ``a`` on side ``s`` (+1 left, -1 right in the front view; +1 for both in
    the side view) has world angle ``s * a`` minus the tilt of the segment it hangs from,
    so "outward" mirrors between the sides while leans and rotations do not.
    """
    seg = dict(SEGMENTS)
    for name, scale in (proportions or {}).items():
        seg[name] = seg[name] * scale
    front = pose.view == "front"
    hip = np.array([pose.x, pose.y + HIP_HEIGHT])
    tilt = pose.rot + pose.lean
    neck = hip + seg["torso"] * _direction(math.pi - tilt)
    head = neck + (seg["neck"] + seg["head_radius"]) * _direction(math.pi - tilt + pose.nod)
    lines = [(hip, neck)]
    shoulder_axis = _direction(math.pi / 2 - tilt) if front else np.zeros(2)
    hip_axis = _direction(math.pi / 2 - pose.rot) if front else np.zeros(2)
    for side, arm, leg in ((1.0, pose.left_arm, pose.left_leg), (-1.0, pose.right_arm, pose.right_leg)):
        s = side if front else 1.0
        shoulder = neck + side * 0.5 * seg["shoulder_width"] * shoulder_axis
        elbow, hand = _limb(shoulder, s * arm.angle - tilt, s * arm.bend,
                            (seg["upper_arm"], seg["forearm"]))
        hip_joint = hip + side * 0.5 * seg["hip_width"] * hip_axis
        knee, foot = _limb(hip_joint, s * leg.angle - pose.rot, -s * leg.bend,
                           (seg["thigh"], seg["shin"]))
        lines += [(neck, shoulder), (shoulder, elbow), (elbow, hand),
                  (hip, hip_joint), (hip_joint, knee), (knee, foot)]
    scale = np.array([pose.width, 1.0])

    def to_tuple(p: np.ndarray) -> tuple[float, float]:
        q = hip + (p - hip) * scale
        return float(q[0]), float(q[1])

    return Skeleton(head=to_tuple(head), head_radius=seg["head_radius"],
                    lines=tuple((to_tuple(a), to_tuple(b)) for a, b in lines))


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where and how a skeleton is drawn: pixel position of the feet, height, facing, style."""

    ground_x: float
    ground_y: float
    height: float
    facing: float
    color: tuple[int, int, int]
    line_width: int


def draw_skeleton(image: Image.Image, skeleton: Skeleton, placement: Placement) -> None:
    """Draw ``skeleton`` onto ``image`` in place (``u`` to the right when facing +1, ``v`` up)."""
    draw = ImageDraw.Draw(image)

    def px(p: tuple[float, float]) -> tuple[float, float]:
        return (placement.ground_x + placement.facing * p[0] * placement.height,
                placement.ground_y - p[1] * placement.height)

    for a, b in skeleton.lines:
        draw.line([px(a), px(b)], fill=placement.color, width=placement.line_width)
    cx, cy = px(skeleton.head)
    r = skeleton.head_radius * placement.height
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=placement.color,
                 width=placement.line_width, fill=placement.color)
