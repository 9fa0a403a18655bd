"""Face alignment: five landmarks and aligned chips."""

from .chips import ChipExtractor, FaceChips

__all__ = ["ChipExtractor", "FaceChips"]
