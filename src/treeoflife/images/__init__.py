"""Image work for shards: bytes of any source image in, a small JPEG (or a reason) out.

``process_image`` is a pure function (no files, no database), so the same bytes give the
same JPEG bytes in any worker, on any machine with the same Pillow, simplejpeg and OpenCV
wheels.
"""

from treeoflife.config import ImageSpec  # the [images] settings; ImageSpec() is the default
from treeoflife.images.codec import CODEC_VERSION, Encoded, process_image

__all__ = ["CODEC_VERSION", "Encoded", "ImageSpec", "process_image"]
