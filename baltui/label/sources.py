"""Images to label: a folder of image files (any size or mode) or an .npz with x_train.

Every image becomes a square grayscale [0, 1] array of the model's input size, padded (not stretched)
to keep its aspect ratio, so what the person sees is what the model learns from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baltui.errors import BaltuiError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}


@dataclass
class Source:
    """Items (relative paths, or npz indices as strings) and their images, in a stable order."""

    identity: str  # what an --out folder remembers, to refuse mixing sources
    items: list[str]
    images: np.ndarray  # [N, size, size, 1] float32
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    path: str = ""


def _to_square(img, size: int) -> np.ndarray:
    """Grayscale, padded to a square with the border's median grey, resized to size x size."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    side = max(h, w)
    canvas = np.full((side, side), float(np.median(border)), dtype=np.float32)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = gray
    resized = Image.fromarray(canvas.astype(np.uint8)).resize((size, size), Image.LANCZOS)
    out = np.asarray(resized, dtype=np.float32) / 255.0
    if float(np.median(border)) > 127:  # dark ink on light paper: flip to the MNIST convention
        out = 1.0 - out
    return out


def load_folder(folder: Path, size: int = 28) -> Source:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BaltuiError(f"{folder} holds no images (PNG, JPEG or BMP, searched recursively)")
    items, images, skipped = [], [], []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        try:
            with Image.open(path) as img:
                img.load()
                images.append(_to_square(img, size))
            items.append(rel)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            skipped.append((rel, type(exc).__name__))
    if not items:
        raise BaltuiError(f"{folder}: none of its {len(files)} image files could be read")
    identity = "folder:" + hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
    return Source(identity, items, np.stack(images)[..., None], skipped, str(folder))


def load_npz_images(path: Path) -> Source:
    """x_train of an .npz, read and checked by data.py's reader (the same messages as --data); grayscale only."""
    from baltui.data import check_images, read_npz, scale_images

    x = read_npz(path, required=("x_train",))["x_train"]
    check_images(str(path), "x_train", x, channels=(1,))
    images = scale_images(x)
    identity = f"npz:{path.resolve()}:{len(x)}"
    return Source(identity, [str(i) for i in range(len(x))], images, [], str(path))


def load_source(source: str, size: int = 28) -> Source:
    path = Path(source)
    if path.is_dir():
        return load_folder(path, size)
    if path.is_file() and path.suffix == ".npz":
        return load_npz_images(path)
    if not path.exists():
        raise BaltuiError(f"{source} does not exist; give a folder of images or an .npz with x_train")
    raise BaltuiError(f"{source} is neither a folder of images nor an .npz file")
