"""Images from files: a folder of image files (any size or mode) or an .npz with x_train, as arrays the model takes.

The one image reader of baltui: label mode reads its sources here (`load_source`), the main loop reads a
folder of class subfolders through `decode_images` (baltui.core.image_folder), and `baltui.next_batch` reads
its images with `load_source`, so an image is the same array whichever of them reads it.

Every file image becomes a square [0, 1] array of the model's input size (`--size`, 28 by default), padded
(not stretched) to keep its aspect ratio, so what the person sees is what the model learns from. A set of
images holding any colour image is kept in colour ([N, size, size, 3]); otherwise it is grayscale
([N, size, size, 1]) and dark ink on light paper is inverted to the MNIST convention. An .npz keeps its
images as stored (grayscale or RGB, at their own size).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baltui.core.errors import BaltuiError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
DEFAULT_SIZE = 28
MIN_SIZE = 8  # the seed CNN's two 4x4 convolutions and 2x2 pooling need at least 8x8
# An image is in colour when more than COLOUR_SHARE of its pixels differ by more than CHROMA (of 255) between
# their brightest and darkest channel: grey pictures stored as RGB, and JPEG noise, stay grayscale.
CHROMA = 24
COLOUR_SHARE = 0.01


@dataclass
class Source:
    """Items (relative paths, or npz indices as strings) and their images, in a stable order."""

    identity: str  # what an --out folder remembers, to refuse mixing sources
    items: list[str]
    images: np.ndarray  # [N, H, W, 1] or [N, H, W, 3] float32 in [0, 1]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    path: str = ""
    kind: str = "folder"  # or "npz": its items are the indices of x_train
    size: int | None = None  # --size a folder was read at; None for an .npz (its own size)
    aliases: tuple[str, ...] = ()  # identities older versions recorded for the same source

    @property
    def colour(self) -> bool:
        return self.images.shape[-1] == 3


def _on_white(img):
    """Transparent pixels composited onto white, as a viewer shows them."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img


def _square(pixels: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """[h, w] or [h, w, 3] uint8 padded to a square with the border's median, resized: (uint8, median grey)."""
    from PIL import Image

    h, w = pixels.shape[:2]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).astype(np.float32)
    fill = np.median(border, axis=0)
    side = max(h, w)
    canvas = np.empty((side, side, *pixels.shape[2:]), dtype=np.float32)
    canvas[...] = fill
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = pixels
    resized = Image.fromarray(canvas.astype(np.uint8)).resize((size, size), Image.LANCZOS)
    return np.asarray(resized, dtype=np.uint8), float(np.mean(fill))


def _read(img, size: int) -> tuple[np.ndarray, float, np.ndarray | None]:
    """(grey square uint8, its border's median grey, the RGB square if the image is in colour else None)."""
    img = _on_white(img)
    gray, paper = _square(np.asarray(img.convert("L")), size)
    if img.mode in ("1", "L", "I", "F") or img.mode.startswith("I;"):
        return gray, paper, None
    rgb = np.asarray(img.convert("RGB"))
    chroma = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    if float((chroma > CHROMA).mean()) <= COLOUR_SHARE:
        return gray, paper, None
    return gray, paper, _square(rgb, size)[0]


def image_files(folder: Path) -> list[Path]:
    """The image files under `folder` (searched recursively), in a stable order: sorted by path."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def decode_images(files: list[Path], size: int) -> tuple[np.ndarray | None, list[int], list[tuple[int, str]]]:
    """Every readable file of `files` as one array of squares of `size`, decided together: colour when any image
    is ([N, size, size, 3], grey images joining as grey RGB), else grayscale ([N, size, size, 1], dark ink on
    light paper inverted). Returns (images or None when none could be read, the positions in `files` read,
    (position, reason) of each file that could not be)."""
    from PIL import Image, UnidentifiedImageError

    read, ok, skipped = [], [], []
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                img.load()
                read.append(_read(img, size))
            ok.append(i)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            skipped.append((i, type(exc).__name__))
    if not read:
        return None, ok, skipped
    if any(rgb is not None for _, _, rgb in read):  # a colour set: grey images join it as grey RGB
        images = np.stack([rgb if rgb is not None else np.repeat(gray[..., None], 3, axis=2)
                           for gray, _, rgb in read]).astype(np.float32) / np.float32(255.0)
    else:  # dark ink on light paper: flipped to the MNIST convention
        images = np.stack([1.0 - gray / np.float32(255.0) if paper > 127 else gray / np.float32(255.0)
                           for gray, paper, _ in read]).astype(np.float32)[..., None]
    return images, ok, skipped


def load_folder(folder: Path, size: int = DEFAULT_SIZE) -> Source:
    """Every image under `folder`; a file that cannot be read is skipped (and named in `Source.skipped`)."""
    files = image_files(folder)
    if not files:
        raise BaltuiError(f"{folder} holds no images (PNG, JPEG or BMP, searched recursively)")
    images, ok, failed = decode_images(files, size)
    rel = [path.relative_to(folder).as_posix() for path in files]
    if images is None:
        raise BaltuiError(f"{folder}: none of its {len(files)} image files could be read")
    items = [rel[i] for i in ok]
    skipped = [(rel[i], why) for i, why in failed]
    identity = "folder:" + hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]
    return Source(identity, items, images, skipped, str(folder), "folder", size)


def load_npz_images(path: Path, size: int | None = None) -> Source:
    """x_train of an .npz (grayscale or RGB), read and checked by data.py's reader (the same messages as --data)."""
    from baltui.core.data import check_images, read_npz, scale_images

    x = read_npz(path, required=("x_train",))["x_train"]
    check_images(str(path), "x_train", x, channels=(1, 3))
    if min(x.shape[1:3]) < MIN_SIZE:
        raise BaltuiError(f"{path}: x_train images are {x.shape[1]}x{x.shape[2]}; the model needs at least "
                          f"{MIN_SIZE}x{MIN_SIZE} (give larger images)")
    if size is not None and x.shape[1:3] != (size, size):
        raise BaltuiError(f"{path}: x_train images are {x.shape[1]}x{x.shape[2]}; an .npz source keeps its own "
                          f"size, so leave out --size {size}")
    images = scale_images(x)
    a = np.ascontiguousarray(x)
    digest = hashlib.sha256(f"{a.dtype.str}:{a.shape}".encode() + a.tobytes()).hexdigest()[:16]
    legacy = f"npz:{path.resolve()}:{len(x)}"  # what sessions recorded before the content hash
    return Source(f"npz:{digest}:{len(x)}", [str(i) for i in range(len(x))], images, [], str(path), "npz",
                  aliases=(legacy,))


def load_source(source: str, size: int | None = None) -> Source:
    """A folder (read at `size`, DEFAULT_SIZE if None) or an .npz (its own size; `size`, if given, must match)."""
    if size is not None and size < MIN_SIZE:
        raise BaltuiError(f"--size must be at least {MIN_SIZE}, got {size}")
    path = Path(source)
    if path.is_dir():
        return load_folder(path, size or DEFAULT_SIZE)
    if path.is_file() and path.suffix == ".npz":
        return load_npz_images(path, size)
    if not path.exists():
        raise BaltuiError(f"{source} does not exist; give a folder of images or an .npz with x_train")
    raise BaltuiError(f"{source} is neither a folder of images nor an .npz file")
