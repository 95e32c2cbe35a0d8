"""Segmentation masks: decoded as class ids, and kept aligned with their images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

import imgbatch
from imgbatch.mask import MaskOptions, class_colours, decode_mask, fit_mask, overlay
from imgbatch.transform import Decoder, Geometry
from tests.helpers import encode, require, write

# Gray levels of the two classes in the images (padding is black): far enough apart that
# resizing, JPEG and a little brightness jitter never move a pixel across a threshold.
LEVELS = (110, 240)


def _scene(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Class ids (0/1): an off-centre ellipse and a slanted band, so that any shift, scale or
    flip mismatch between image and mask shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = height * rng.uniform(0.3, 0.45), width * rng.uniform(0.25, 0.4)
    ellipse = ((y - cy) / (0.25 * height)) ** 2 + ((x - cx) / (0.2 * width)) ** 2 < 1
    band = np.abs((x / width) + 0.5 * (y / height) - 1.05) < 0.06
    classes: np.ndarray = (ellipse | band).astype(np.uint8)
    return classes


def _image(classes: np.ndarray) -> np.ndarray:
    gray = np.where(classes == 1, LEVELS[1], LEVELS[0]).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def _palette_mask(classes: np.ndarray) -> bytes:
    """A palette PNG whose indices are the class ids (colours nothing like the ids)."""
    im = Image.fromarray(classes, mode="P")
    im.putpalette([0, 0, 0, 200, 30, 90] + [7, 7, 7] * 254)
    return encode(im)


def _dataset(tmp_path: Path, shapes: list[tuple[int, int, str]]) -> Path:
    """One image (JPEG or PNG) and palette mask per shape; a labels.csv with a mask column."""
    rows = ["image,mask,label"]
    for k, (height, width, fmt) in enumerate(shapes):
        classes = _scene(height, width, seed=k)
        ext = "jpg" if fmt == "JPEG" else "png"
        options = {"quality": 95} if fmt == "JPEG" else {}
        write(tmp_path / f"img/{k}.{ext}", encode(_image(classes), fmt, **options))
        write(tmp_path / f"masks/{k}.png", _palette_mask(classes))
        rows.append(f"img/{k}.{ext},masks/{k}.png,{'ab'[k % 2]}")
    labels = tmp_path / "seg.csv"
    labels.write_text("\n".join(rows) + "\n")
    return labels


def _image_classes(images: np.ndarray) -> np.ndarray:
    """What each output pixel of uint8 RGB images shows: 255 padding, else the class id."""
    gray = images.astype(np.int32).mean(axis=-1)
    threshold = (LEVELS[0] + LEVELS[1]) / 2
    return np.where(gray < LEVELS[0] / 2, 255, (gray > threshold).astype(np.int32))


def _assert_aligned(images: np.ndarray, masks: np.ndarray, margin: int = 2) -> None:
    """Every pixel at least ``margin`` pixels from a class boundary of the mask shows the
    mask's class (or padding where the mask has its fill). A boundary just outside a crop is
    not in the mask, so the ``margin`` pixels along the output's edges are left out."""
    assert masks.shape == images.shape[:3]
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    seen = _image_classes(images)
    for k in range(len(masks)):
        mask = masks[k].astype(np.uint8)
        interior = cv2.erode(mask, kernel) == cv2.dilate(mask, kernel)
        interior[:margin] = interior[-margin:] = False
        interior[:, :margin] = interior[:, -margin:] = False
        assert interior.mean() > 0.3, "too little of the mask is away from a boundary"
        wrong = interior & (seen[k] != mask)
        assert not wrong.any(), f"sample {k}: {wrong.sum()} pixels disagree, first at " + str(
            np.argwhere(wrong)[0]
        )


# A PNG and JPEGs big enough to be decoded at 1/2 to 1/8 scale for a 48 x 64 output (one with
# sides that are not multiples of 8, one in portrait).
SHAPES = [(90, 120, "PNG"), (1200, 1600, "JPEG"), (333, 251, "JPEG"), (803, 1203, "JPEG")]
FITS = [
    {"fit": "stretch"},
    {"fit": "crop"},
    {"fit": "pad"},
    {"fit": "crop", "crop_fraction": 0.7},
    {"fit": "stretch", "interpolation": "area"},
]


@pytest.mark.parametrize("fit", FITS, ids=lambda f: "-".join(map(str, f.values())))
def test_mask_stays_aligned_under_every_fit(tmp_path: Path, fit: dict[str, object]) -> None:
    labels = _dataset(tmp_path, SHAPES)
    loader = imgbatch.Loader(
        labels, batch_size=8, size=(48, 64), shuffle=False, dtype="uint8", mask_column="mask",
        **fit,  # type: ignore[arg-type]
    )  # fmt: skip
    images, masks = next(iter(loader))
    assert masks.dtype == np.uint8 and masks.shape == (4, 48, 64)
    _assert_aligned(images, masks)
    if fit["fit"] == "pad":
        assert (masks == 255).any()  # the letterbox: padding in the mask, and only there
    else:
        assert set(np.unique(masks)) == {0, 1}


def test_mask_stays_aligned_under_random_resized_crop_and_flips(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [*SHAPES, (1000, 700, "JPEG")])
    augment = [
        imgbatch.RandomResizedCrop(scale=(0.2, 1.0)),
        imgbatch.RandomHorizontalFlip(),
        imgbatch.RandomVerticalFlip(),
        imgbatch.ColorJitter(brightness=0.15),
    ]
    loader = imgbatch.Loader(
        labels, batch_size=5, size=(40, 56), dtype="uint8", mask_column="mask", augment=augment,
        seed=3,
    )  # fmt: skip
    plain = imgbatch.Loader(labels, batch_size=5, size=(40, 56), dtype="uint8",
                            mask_column="mask", shuffle=False)  # fmt: skip
    _, unaugmented = next(iter(plain))
    differ = 0
    for epoch in range(10):  # 50 draws: 5 images x 10 epochs
        images, masks = loader.batch(0, epoch=epoch)
        _assert_aligned(images, masks)
        differ += len(masks) - sum(any((m == u).all() for u in unaugmented) for m in masks)
    assert differ > 40  # the crops and flips did change the masks


def test_mask_follows_a_jpeg_turned_by_its_exif_orientation(tmp_path: Path) -> None:
    classes = _scene(400, 300)  # as displayed: portrait
    stored = np.rot90(_image(classes), k=1)  # as stored: landscape, turned back by orientation 6
    exif = Image.Exif()
    exif[0x0112] = 6
    write(tmp_path / "a.jpg", encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    write(tmp_path / "a.png", _palette_mask(classes))
    (tmp_path / "seg.csv").write_text("path,mask,label\na.jpg,a.png,x\n")
    for augment in (None, [imgbatch.RandomResizedCrop(), imgbatch.RandomHorizontalFlip()]):
        loader = imgbatch.Loader(tmp_path / "seg.csv", batch_size=1, size=32, dtype="uint8",
                                 mask_column="mask", augment=augment)  # fmt: skip
        for epoch in range(5):
            images, masks = loader.batch(0, epoch=epoch)
            _assert_aligned(images, masks)
    # A mask drawn on the stored (unturned) pixels does not fit: the error says why.
    write(tmp_path / "a.png", _palette_mask(np.rot90(classes, k=1).copy()))
    loader = imgbatch.Loader(tmp_path / "seg.csv", batch_size=1, size=32, mask_column="mask")
    with pytest.raises(imgbatch.ImageReadError, match="EXIF orientation"):
        next(iter(loader))


def test_palette_mask_gives_indices_not_colours(tmp_path: Path) -> None:
    ids = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    im = Image.fromarray(ids, mode="P")
    im.putpalette([(i * 37) % 256 for i in range(768)])
    mask = decode_mask(encode(im), "m.png")
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, ids)
    write(tmp_path / "m.png", encode(im))
    write(tmp_path / "i.png", encode(np.zeros((3, 4, 3), np.uint8)))
    (tmp_path / "seg.jsonl").write_text(json.dumps({"path": "i.png", "mask": "m.png", "y": 1}))
    _, masks = next(iter(imgbatch.Loader(tmp_path / "seg.jsonl", size=(3, 4), mask_column="mask")))
    np.testing.assert_array_equal(masks[0], ids)


def test_gray_masks_keep_their_values_16_bit_too(tmp_path: Path) -> None:
    values = np.array([[0, 1, 255], [256, 1000, 65535]], np.uint16)
    mask16 = decode_mask(encode(Image.fromarray(values)), "m.png")
    np.testing.assert_array_equal(mask16, values)
    gray8 = np.array([[0, 3], [200, 255]], np.uint8)
    np.testing.assert_array_equal(decode_mask(encode(gray8), "g.png"), gray8)
    # An RGB mask is gray when its channels agree, and refused when it holds colours.
    np.testing.assert_array_equal(decode_mask(encode(np.dstack([gray8] * 3)), "g.png"), gray8)
    with pytest.raises(imgbatch.ImageReadError, match="colours, not class ids"):
        decode_mask(encode(np.dstack([gray8, gray8, gray8 // 2])), "c.png")
    write(tmp_path / "m.png", encode(Image.fromarray(values)))
    write(tmp_path / "i.png", encode(np.zeros((2, 3, 3), np.uint8)))
    (tmp_path / "seg.csv").write_text("path,label,mask\ni.png,1,m.png\n")
    wide = imgbatch.Loader(tmp_path / "seg.csv", size=(2, 3), mask_column="mask",
                           mask_dtype="int32")  # fmt: skip
    _, masks = next(iter(wide))
    assert masks.dtype == np.int32
    np.testing.assert_array_equal(masks[0], values)
    narrow = imgbatch.Loader(tmp_path / "seg.csv", size=(2, 3), mask_column="mask")
    with pytest.raises(imgbatch.ImageReadError, match="mask_dtype='int32'"):
        next(iter(narrow))


def test_size_mismatch_names_both_files_and_the_line(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(40, 50, "PNG"), (40, 50, "PNG"), (40, 50, "PNG")])
    write(tmp_path / "masks/1.png", _palette_mask(_scene(40, 51)))
    loader = imgbatch.Loader(labels, batch_size=3, size=16, shuffle=False, mask_column="mask")
    with pytest.raises(imgbatch.ImageReadError) as caught:
        next(iter(loader))
    text = str(caught.value)
    assert "img/1.png" in text and "masks/1.png" in text and "line 3" in text
    assert "51x40" in text and "50x40" in text
    skipping = imgbatch.Loader(labels, batch_size=3, size=16, shuffle=False, mask_column="mask",
                               on_error="skip", dtype="uint8")  # fmt: skip
    with pytest.warns(imgbatch.ImgbatchWarning):
        images, masks = next(iter(skipping))
    assert len(images) == len(masks) == 2
    assert [e.line for e in skipping.errors] == [3]
    _assert_aligned(images, masks, margin=1)


@pytest.mark.parametrize("layout", [{}, {"layout": "chw", "color": "gray"}])
def test_skipped_rows_are_replaced_with_their_own_masks(
    tmp_path: Path, layout: dict[str, str]
) -> None:
    labels = _dataset(tmp_path, [(40 + k, 50 + 3 * k, "PNG") for k in range(7)])
    options: dict[str, Any] = dict(size=(21, 27), fit="pad", dtype="uint8", with_index=True)
    options.update(layout)
    clean = imgbatch.Loader(labels, batch_size=7, shuffle=False, mask_column="mask", **options)
    _, expected, _ = next(iter(clean))
    write(tmp_path / "masks/1.png", _palette_mask(_scene(10, 10)))  # the wrong size: skipped
    # All three batches are in flight when row 1 fails: its slot takes row 6 from the last one.
    loader = imgbatch.Loader(labels, batch_size=3, shuffle=False, mask_column="mask",
                             on_error="skip", prefetch=3, **options)  # fmt: skip
    with pytest.warns(imgbatch.ImgbatchWarning):
        batches = list(loader)
    assert [b[2].tolist() for b in batches] == [[0, 6, 2], [3, 4, 5]]
    for images, masks, rows in batches:
        np.testing.assert_array_equal(masks, expected[rows])
        rgb = np.repeat(images.transpose(0, 2, 3, 1), 3, axis=-1) if layout else images
        _assert_aligned(rgb, masks, margin=1)


def test_a_missing_or_broken_mask_names_both_files(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(20, 20, "PNG")])
    write(tmp_path / "masks/0.png", b"not a png")
    with pytest.raises(imgbatch.ImageReadError, match=r"img/0.png: its mask .*masks/0.png: not"):
        next(iter(imgbatch.Loader(labels, size=8, mask_column="mask")))
    (tmp_path / "masks/0.png").unlink()
    with pytest.raises(imgbatch.ImageReadError, match=r"its mask .*masks/0.png: no such file"):
        next(iter(imgbatch.Loader(labels, size=8, mask_column="mask")))


def test_mask_fill_pads_and_nothing_else_touches_the_mask(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 60, "PNG")])

    def invert(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return 255 - image  # the transform hook sees the image only

    loader = imgbatch.Loader(
        labels, batch_size=1, size=40, fit="pad", mask_column="mask", mask_fill=7,
        transform=invert, mean=0.5, std=0.25,
    )  # fmt: skip
    _, masks = next(iter(loader))
    assert (masks[0, :10] == 7).all() and (masks[0, 30:] == 7).all()  # 60x30 in 40x40: 20 rows
    assert set(np.unique(masks[0, 10:30])) == {0, 1}
    with pytest.raises(ValueError, match=r"mask_fill must be an int in \[0, 255\]"):
        imgbatch.Loader(labels, mask_column="mask", mask_fill=256)
    MaskOptions("mask", fill=256, dtype="int32")  # fits an int32 batch


def test_fit_mask_samples_the_pixel_under_each_output_centre() -> None:
    mask = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = np.zeros((2, 2), np.uint8)
    fit_mask(mask, Geometry.whole((4, 4), (0, 0, 2, 2), (2, 2)), out, fill=0)
    assert out.tolist() == [[5, 7], [13, 15]]  # centres at 1.0 and 3.0: pixels 1 and 3
    fit_mask(mask, Geometry((4, 4), (1, 1, 2, 2), (0, 0, 2, 2), (2, 2)), out, fill=0,
             flips=(True, False))  # fmt: skip
    assert out.tolist() == [[6, 5], [10, 9]]


def test_decoder_geometry_of_a_reduced_jpeg_is_in_full_size_pixels() -> None:
    data = encode(_image(_scene(1203, 803)), "JPEG", quality=90)
    image, geometry = Decoder((40, 40), fit="crop").decode(data, "a.jpg")
    assert image.shape == (40, 40, 3)
    assert geometry.full == (1203, 803)
    top, left, height, width = geometry.window
    assert left == 0 and abs(width - 803) <= 8 and abs(height - width) <= 8  # a square, centred
    assert abs(top + height / 2 - 1203 / 2) <= 8


def test_read_manifest_mask_column_in_csv_tsv_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text('# comment\nimage,label,Mask\n\n"x, 1.jpg",cat,m/1.png\n')
    m = imgbatch.read_manifest(tmp_path / "a.csv", mask_column="mask")
    assert m.masks is not None and list(m.masks) == [str(tmp_path / "m/1.png")]
    assert m.subset([0, 0]).masks is not None and len(m.subset([0, 0]).masks or ()) == 2
    (tmp_path / "a.tsv").write_text("path\tmask\tlabel\na.jpg\ta.png\t1\nb.jpg\tb.png\t2\n")
    m = imgbatch.read_manifest(tmp_path / "a.tsv", mask_column=1)
    assert [p[-5:] for p in m.masks or ()] == ["a.png", "b.png"]
    (tmp_path / "a.jsonl").write_text('{"path": "a.jpg", "label": 0, "seg": "s/a.png"}\n')
    m = imgbatch.read_manifest(tmp_path / "a.jsonl", mask_column="seg")
    assert list(m.masks or ()) == [str(tmp_path / "s/a.png")]


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("path,label,mask\na.jpg,1,\n", "mask", "line 2: empty mask path"),
        ("path,label\na.jpg,1\n", "mask", "line 1: header has no 'mask' column"),
        ("a.jpg,1\n", "mask", "no header row"),
        ("path,label,mask\na.jpg,1\n", "mask", "line 2: row has 2 fields, no mask column"),
    ],
)
def test_mask_column_errors_name_the_line(
    tmp_path: Path, text: str, column: str, message: str
) -> None:
    (tmp_path / "a.csv").write_text(text)
    with pytest.raises(imgbatch.ManifestError, match=message):
        imgbatch.read_manifest(tmp_path / "a.csv", mask_column=column)


def test_an_image_mask_file_has_no_label_column(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG"), (30, 40, "PNG")])
    pairs = [",".join(line.split(",")[:2]) for line in labels.read_text().splitlines()]
    (tmp_path / "pairs.csv").write_text("\n".join(pairs) + "\n")  # image,mask
    (tmp_path / "bare.csv").write_text("\n".join(pairs[1:]) + "\n")  # no header
    for path, column in ((tmp_path / "pairs.csv", "mask"), (tmp_path / "bare.csv", 1)):
        loader = imgbatch.Loader(path, size=8, mask_column=column, with_index=True)
        assert loader.classes is None and not loader.manifest.labeled  # not the mask paths
        assert loader.manifest.masks is not None and loader.manifest.masks[1].endswith("1.png")
        assert loader.manifest.paths[1].endswith("img/1.png")
        _, masks = imgbatch.load_eager(path, size=8, mask_column=column)
        assert masks.shape == (2, 8, 8)
    assert imgbatch.read_manifest(labels, mask_column="mask").classes == ("a", "b")


def test_mask_column_needs_a_label_file(tmp_path: Path) -> None:
    write(tmp_path / "cat/a.png", encode(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(imgbatch.ManifestError, match="needs a csv, tsv or jsonl label file"):
        imgbatch.Loader(tmp_path, mask_column="mask")
    with pytest.raises(TypeError, match="mask_column must be"):
        imgbatch.read_manifest(tmp_path / "x.csv", mask_column=1.5)  # type: ignore[arg-type]


def test_a_manifest_read_with_masks_brings_them_to_the_loader(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG"), (30, 40, "JPEG")])
    m = imgbatch.read_manifest(labels, mask_column="mask")
    images, masks = next(iter(imgbatch.Loader(m, batch_size=2, size=24, dtype="uint8")))
    _assert_aligned(images, masks, margin=1)
    _x, y = next(imgbatch.batches(labels, batch_size=2, size=24, mask_column="mask"))
    assert y.shape == (2, 24, 24) and y.dtype == np.uint8


def test_a_state_is_refused_by_a_loader_with_other_masks(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG"), (30, 40, "PNG")])
    (tmp_path / "other.csv").write_text(labels.read_text().replace("masks/0", "masks/1"))
    loader = imgbatch.Loader(labels, batch_size=1, size=8, mask_column="mask")
    next(iter(loader))
    state = loader.state_dict()
    same = imgbatch.Loader(labels, batch_size=1, size=8, mask_column="mask")
    same.load_state_dict(state)
    for other in (
        imgbatch.Loader(labels, batch_size=1, size=8),  # no masks
        imgbatch.Loader(tmp_path / "other.csv", batch_size=1, size=8, mask_column="mask"),
    ):
        with pytest.raises(ValueError, match="fingerprint"):
            other.load_state_dict(state)


def test_repr_shows_the_mask_column_and_with_index(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG")])
    loader = imgbatch.Loader(labels, size=8, mask_column="mask", mask_fill=0, with_index=True)
    assert "mask_column='mask', mask_fill=0, with_index=True" in repr(loader)
    assert "mask_column" not in repr(imgbatch.Loader(labels, size=8))


def test_overlay_tints_classes_blacks_out_padding_and_outlines_boundaries() -> None:
    images = np.full((1, 4, 6, 3), 100, np.uint8)
    masks = np.zeros((1, 4, 6), np.uint8)
    masks[0, :, 3:5] = 2
    masks[0, :, 5] = 255
    shown = overlay(images, masks, fill=255, outline=False)
    assert shown[0, 0, 0].tolist() == [100, 100, 100]  # class 0: left clear
    expected = (np.array([100, 100, 100]) + class_colours()[2]) / 2  # class 2: green, blended
    assert np.abs(shown[0, 0, 3] - expected).max() <= 1
    assert shown[0, 0, 5].tolist() == [0, 0, 0]  # padding
    outlined = overlay(images[..., :1], masks, fill=255)  # gray images are shown in colour
    assert outlined.shape == (1, 4, 6, 3)
    assert outlined[0, 0, 2].tolist() == [255, 255, 255] and outlined[0, 0, 1].tolist() == [100] * 3


def test_show_draws_the_masks_over_their_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from imgbatch.cli import main

    labels = _dataset(tmp_path, [(40, 40, "PNG"), (30, 60, "PNG")])
    out = tmp_path / "sheet.png"
    args = ["show", str(labels), "--mask-column", "mask", "--size", "32"]
    assert main([*args, "--fit", "pad", "--no-shuffle", "--cols", "2", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == (32 + 18, 64, 3)
    plain = imgbatch.Loader(labels, batch_size=2, size=32, fit="pad", shuffle=False,
                            dtype="uint8", mask_column="mask")  # fmt: skip
    images, masks = next(iter(plain))
    expected = overlay(images, masks, fill=255)
    np.testing.assert_array_equal(sheet[:32, :32], expected[0])
    np.testing.assert_array_equal(sheet[:32, 32:], expected[1])
    assert (sheet[:8, 32:] == 0).all()  # the second image's letterbox: padding shown black
    draws = tmp_path / "draws.png"
    assert main([*args, "--augment", "--draws", "2", "--out", str(draws)]) == 0
    assert np.asarray(Image.open(draws)).shape == (2 * (32 + 18), 3 * 32, 3)


def test_load_eager_returns_the_masks_a_loader_yields(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG"), (50, 40, "JPEG"), (30, 30, "PNG")])
    write(tmp_path / "masks/1.png", _palette_mask(_scene(50, 41)))  # a bad row, skipped
    with pytest.warns(imgbatch.ImgbatchWarning):
        images, masks = imgbatch.load_eager(
            labels, size=20, fit="pad", dtype="uint8", mask_column="mask", on_error="skip"
        )
    assert images.shape == (2, 20, 20, 3) and masks.shape == (2, 20, 20)
    _assert_aligned(images, masks, margin=1)
    (tmp_path / "ok.csv").write_text(
        "image,mask,label\nimg/0.png,masks/0.png,a\nimg/2.png,masks/2.png,b\n"
    )
    loader = imgbatch.Loader(tmp_path / "ok.csv", batch_size=2, size=20, fit="pad",
                             dtype="uint8", shuffle=False, mask_column="mask")  # fmt: skip
    np.testing.assert_array_equal(next(iter(loader))[1], masks)


def test_with_index_gives_images_masks_and_rows_even_without_labels(tmp_path: Path) -> None:
    labels = _dataset(tmp_path, [(30, 40, "PNG"), (40, 30, "PNG"), (30, 30, "JPEG")])
    text = labels.read_text().replace(",a\n", "\n").replace(",b\n", "\n")
    (tmp_path / "paths.csv").write_text(text.replace("image,mask,label", "image,mask"))
    loader = imgbatch.Loader(
        tmp_path / "paths.csv", batch_size=3, size=16, dtype="uint8", mask_column="mask",
        label_column=None, with_index=True, seed=5,
    )  # fmt: skip
    images, masks, rows = next(iter(loader))
    assert masks.shape == (3, 16, 16) and sorted(rows.tolist()) == [0, 1, 2]
    _assert_aligned(images, masks, margin=1)
    for k, row in enumerate(rows.tolist()):  # each row's own mask, by its file
        mask = decode_mask((tmp_path / f"masks/{row}.png").read_bytes(), "m")
        expected = np.zeros((16, 16), np.uint8)
        fit_mask(mask, Geometry.whole(mask.shape, (0, 0, 16, 16), (16, 16)), expected, fill=255)
        np.testing.assert_array_equal(masks[k], expected)


@pytest.fixture(scope="session")
def fsspec_loop() -> None:
    """fsspec's io thread, started before the test (it lives as long as the process)."""
    require("fsspec")
    require("aiohttp")
    import fsspec.asyn

    fsspec.asyn.get_loop()


@pytest.mark.usefixtures("fsspec_loop")
def test_a_label_file_and_masks_at_a_url_give_the_local_arrays() -> None:
    from tests.servers import FolderServer

    folder = Path(__file__).resolve().parent.parent / "sample_data" / "segmentation"
    options = {"batch_size": 8, "size": 32, "shuffle": False, "mask_column": "mask"}
    local = next(iter(imgbatch.Loader(folder / "labels.csv", **options)))  # type: ignore[arg-type]
    with FolderServer(folder) as server:
        remote = next(iter(imgbatch.Loader(f"{server.url}/labels.csv", **options)))  # type: ignore[arg-type]
        assert server.requests["/masks/scene_000.png"] == 1
    np.testing.assert_array_equal(remote[0], local[0])
    np.testing.assert_array_equal(remote[1], local[1])


def test_tf_signature_of_images_and_masks(tmp_path: Path) -> None:
    tf = require("tensorflow")
    from imgbatch.integrations.tf import output_signature

    labels = _dataset(tmp_path, [(30, 40, "PNG"), (40, 30, "PNG")])
    loader = imgbatch.Loader(labels, batch_size=2, size=(12, 16), shuffle=False,
                             mask_column="mask", mask_dtype="int32")  # fmt: skip
    images, masks = output_signature(loader)
    assert masks == tf.TensorSpec((None, 12, 16), tf.int32, name="masks")
    batch = next(iter(loader))
    assert images.is_compatible_with(tf.constant(batch[0]))
    assert masks.is_compatible_with(tf.constant(batch[1]))
