"""Face detection and dense landmarks."""
from facesculpt.detect.mediapipe_landmarker import detect_faces

__all__ = ["detect_faces"]
