"""Image and landmark metrics."""
from facesculpt.metrics.image import l1, psnr, ssim

__all__ = ["l1", "psnr", "ssim"]
