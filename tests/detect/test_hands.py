"""Hands (``detect.hands``): mediapipe's bundled hand landmarker and the hand mask."""
import numpy as np
import pytest

from facesculpt.detect.hands import CHAINS, HandsConfig, detect_hands, hand_mask, near_face_sized


def _open_hand(cx=120.0, cy=220.0, s=30.0):
    """(21, 2) points of an upright open hand: wrist at the bottom, palm width ~s."""
    pts = np.zeros((21, 2))
    pts[0] = (cx, cy)
    for k, (dx, ln) in enumerate(((-1.4, 1.2), (-0.8, 2.6), (0.0, 2.9), (0.7, 2.7), (1.4, 2.1))):
        root = np.array([cx + dx * s * (1.2 if k == 0 else 1.0), cy - (0.5 if k == 0 else 1.0) * s])
        chain = CHAINS[k][1:] if k == 0 else CHAINS[k]
        for j, i in enumerate(chain):
            pts[i] = root + np.array([0.25 * dx * s * j, -ln * s * j / (len(chain) - 1 if k else len(chain))])
    return pts


def test_mask_covers_palm_and_fingers_only():
    pts = _open_hand()
    m = hand_mask([pts], (300, 240), HandsConfig())
    for i in range(21):  # every landmark (fingertips too) is inside
        x, y = np.round(pts[i]).astype(int)
        assert m[y, x], i
    palm = np.linalg.norm(pts[5] - pts[17])
    x0, y0 = pts.min(0) - 0.6 * palm
    x1, y1 = pts.max(0) + 0.6 * palm
    ys, xs = np.nonzero(m)
    assert xs.min() >= x0 and xs.max() <= x1 and ys.min() >= y0 and ys.max() <= y1  # no more than hand + margin
    import cv2

    hull = np.zeros(m.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(pts).astype(np.int32)), 1)
    cfg = HandsConfig()
    g = int(round((cfg.finger_radius + cfg.margin) * palm))
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    assert m.sum() < 0.9 * hull.sum()  # fingers are capsules (gaps between them), not one grown hull
    assert not hand_mask([], (50, 60)).any()


def test_mask_fails_on_bad_points():
    with pytest.raises(ValueError, match=r"\(21, 2\)"):
        hand_mask([np.zeros((20, 2))], (10, 10))
    with pytest.raises(ValueError, match="uint8"):
        detect_hands(np.zeros((10, 10, 3), np.float32))


@pytest.mark.parametrize("photo", ["grace_hopper", "astronaut"])
def test_no_hands_on_clean_photos(photo, request):
    from facesculpt.detect import detect_faces

    img = request.getfixturevalue(photo)
    lmk = detect_faces(img, max_faces=1)[0]
    assert detect_hands(img, lmk.bbox.tolist()) == []


def test_pasted_skin_hand_found_and_masked(astronaut):
    """The occlusion benchmark's skin-coloured hand (face colour, shaded fingers) on the astronaut:
    the face-crop pass finds it and the mask covers >= 90 % of it, spilling < 1.5 x its area."""
    from facesculpt.bench.occlusion import occluder
    from facesculpt.detect import detect_faces

    lmk = detect_faces(astronaut, max_faces=1)[0]
    img, pasted = occluder(astronaut, lmk, "skin_hand")
    assert detect_hands(img, None) == []  # too small in the whole photo ...
    hands = detect_hands(img, lmk.bbox.tolist())  # ... found in the face crop
    assert len(hands) >= 1
    m = hand_mask(hands, img.shape[:2])
    assert (m & pasted).sum() >= 0.9 * pasted.sum()
    assert (m & ~pasted).sum() <= 1.5 * pasted.sum()


def test_presets_hands_on_in_default_off_in_fast():
    from facesculpt.config import make_config

    assert make_config("default").texture.occlusion.hands.enabled
    assert not make_config("fast").texture.occlusion.hands.enabled
    on = make_config("fast", **{"texture.occlusion.hands.enabled": True})
    assert on.texture.occlusion.hands.enabled


def test_hands_much_smaller_than_the_face_dropped():
    """A nose in profile was taken for a hand spanning 0.18 x the face box (AFLW image02420); pasted
    hands span 0.44-0.59 x."""
    hand = _open_hand()
    span = float(np.ptp(hand, axis=0).max())
    box = (0.0, 0.0, span / 0.3, span / 0.3)  # the hand spans 0.3 x this face box
    assert near_face_sized([hand], box, 0.35) == []
    assert len(near_face_sized([hand], box, 0.25)) == 1
    assert len(near_face_sized([hand, hand * 0.3], (0.0, 0.0, span, span / 2), 0.35)) == 1
