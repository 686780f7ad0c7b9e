"""What the image pass measures of the pixels it already decoded, for ``[filters]``."""

from __future__ import annotations

from PIL import Image, ImageStat


def pixel_std(image: Image.Image) -> float:
    """The largest per-channel standard deviation of an image's pixels, 0-255.

    Near 0 for a blank frame (black, white or one colour: all channels flat); a photograph
    is in the tens. Measured on the small resized image, so it costs a histogram of ~50K
    pixels. Rounded to 1/1000 so the same pixels give the same number on every machine.
    """
    return round(max(ImageStat.Stat(image).stddev), 3)
