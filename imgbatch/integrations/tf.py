"""TensorFlow adapter: a :class:`~imgbatch.Loader` as a ``tf.data.Dataset``.

Importing this module imports TensorFlow; importing :mod:`imgbatch` never does.

The dataset is built with ``tf.data.Dataset.from_generator``: each iteration over it runs one
epoch of the loader (a new permutation when the loader shuffles), decoded by imgbatch's threads.
Its ``output_signature`` is exact: images ``(None, H, W, C)`` (or ``(None, C, H, W)`` with
``layout="chw"``) in the loader's dtype, labels ``(None,)`` int64 class ids or float32 targets;
with ``drop_last=True`` the batch dimension is known too. With ``on_error="raise"`` (the
default) the dataset's cardinality is ``len(loader)``, so ``len(dataset)`` and Keras' progress
bar know the epoch's length.

Example:
    >>> from imgbatch.integrations.tf import to_tf_dataset
    >>> loader = imgbatch.Loader("labels.csv", batch_size=32, size=224)  # doctest: +SKIP
    >>> dataset = to_tf_dataset(loader)  # doctest: +SKIP
    >>> for epoch in range(10):  # doctest: +SKIP
    ...     for images, labels in dataset:  # images: tf.float32 (32, 224, 224, 3)
    ...         train_step(images, labels)
"""

from __future__ import annotations

from collections.abc import Iterator

import tensorflow as tf

from .._util import Batch
from ..loader import Loader

__all__ = ["output_signature", "to_tf_dataset"]


def output_signature(loader: Loader) -> tuple[tf.TensorSpec, ...]:
    """The ``(images, labels)`` ``tf.TensorSpec`` pair of the loader's batches; with
    ``with_index=True`` a third, the ``int64`` rows. Labels are ``(B,)``, or ``(B, C)``
    multi-hot, or ``(B, k)`` targets; with a mask column, masks ``(B, H, W)`` take their place.

    Example:
        >>> output_signature(imgbatch.Loader("labels.csv", size=(48, 64)))  # doctest: +SKIP
        (TensorSpec(shape=(None, 48, 64, 3), dtype=tf.float32, name='images'),
         TensorSpec(shape=(None,), dtype=tf.int64, name='labels'))
    """
    batch = loader.batch_size if loader.drop_last else None  # only full batches with drop_last
    images = tf.TensorSpec((batch, *loader.image_shape), tf.as_dtype(loader.dtype), name="images")
    m = loader.manifest
    multi = m.multi_labels
    label_shape = (multi.classes,) if multi is not None else m.labels.shape[1:]
    dtype = tf.float32 if multi is not None else tf.as_dtype(m.labels.dtype)
    labels = tf.TensorSpec((batch, *label_shape), dtype, name="labels")
    if loader.masks is not None:  # (images, masks): class ids (B, H, W)
        labels = tf.TensorSpec((batch, *loader.size), tf.as_dtype(loader.masks.dtype), name="masks")
    if loader.with_index:
        return images, labels, tf.TensorSpec((batch,), tf.int64, name="rows")
    return images, labels


def to_tf_dataset(loader: Loader) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of the loader's ``(images, labels)`` batches, one epoch per pass.

    The loader keeps the epoch counter: iterating the dataset again runs the loader's next
    epoch. A pass abandoned early leaves the loader's threads to stop when TensorFlow releases
    the generator (when the iterator is deleted).

    Example:
        >>> dataset = to_tf_dataset(imgbatch.Loader("labels.csv", size=64))  # doctest: +SKIP
        >>> model.fit(dataset, epochs=5)  # Keras on the TensorFlow backend  # doctest: +SKIP
    """
    if not isinstance(loader, Loader):
        msg = f"loader must be an imgbatch.Loader, got {type(loader).__name__}"
        raise TypeError(msg)

    def epoch() -> Iterator[Batch]:
        return iter(loader)

    dataset = tf.data.Dataset.from_generator(epoch, output_signature=output_signature(loader))
    if loader.on_error == "raise":  # skipped files could make an epoch shorter
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(loader)))
    return dataset
