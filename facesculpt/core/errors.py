"""Errors users see. Each carries a one-line, actionable message."""


class FaceSculptError(Exception):
    """Base class of every error facesculpt raises on purpose."""


class InvalidImageError(FaceSculptError):
    """The input is not a readable image (missing, empty, corrupt, unsupported)."""


class FaceNotFoundError(FaceSculptError):
    """No face was detected in the image."""


class InvalidBoxError(FaceSculptError, ValueError):
    """A user-given face box is inverted, too small or outside the image."""


class FaceTooSmallError(FaceSculptError):
    """A face was found but it is smaller than the minimum size the fit supports."""


class ShapeError(FaceSculptError, ValueError):
    """A tensor argument has the wrong shape or dtype."""


class ConfigError(FaceSculptError, ValueError):
    """A config override names an unknown field or has a bad value."""


class AssetError(FaceSculptError):
    """A bundled or installed model file is missing, truncated or corrupt."""


class FitFailedError(FaceSculptError):
    """The fit of a found face failed its quality checks, also after a retry from a safer start
    (``facesculpt.fitting.gates``): nothing is written for that face."""
