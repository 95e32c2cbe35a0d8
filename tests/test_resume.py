"""Elastic resume: a state taken at one world size resumes the epoch at another, serving exactly
the rows not yet served; states from another dataset, seed or batch size are refused."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imgbatch import ColorJitter, ImgbatchWarning, Loader, RandomHorizontalFlip, RandomResizedCrop
from imgbatch.order import epoch_order
from imgbatch.resume import ResumePoint, resume_point
from tests.helpers import encode, gradient, write

BATCH = 2
SEED = 3
TAKEN = 4  # batches per rank before the "crash"


def make_rows(root: Path, n: int) -> Path:
    """``n`` rows over a few structured images; each row's label is its row number."""
    for k in range(3):
        write(root / f"{k}.png", encode(gradient(20 + 4 * k, 24, seed=k)))
    text = "\n".join(f"{row % 3}.png {row}" for row in range(n)) + "\n"
    (root / "list.txt").write_text(text, encoding="utf-8")
    return root / "list.txt"


def loader(labels: Path, **options: Any) -> Loader:
    options = {
        "batch_size": BATCH, "size": 8, "seed": SEED, "dtype": "uint8", "workers": 1,
        "prefetch": 1, "shard_mode": "drop", **options,
    }  # fmt: skip
    return Loader(labels, **options)


def rows_served(batches: list[tuple[np.ndarray, ...]]) -> list[int]:
    return [int(row) for _, labels in batches for row in labels]


def take(source: Loader, count: int) -> tuple[list[tuple[np.ndarray, ...]], dict[str, Any]]:
    """The first ``count`` batches of an iteration, and the state after them (as JSON)."""
    stream = iter(source)
    head = [next(stream) for _ in range(count)]
    state = json.loads(json.dumps(source.state_dict()))
    stream.close()  # type: ignore[attr-defined]  # the "crash"
    return head, state


def crash_at_world_two(labels: Path, **options: Any) -> tuple[list[int], list[dict[str, Any]]]:
    """Rows served by 2 ranks taking ``TAKEN`` batches each, and each rank's state."""
    served, states = [], []
    for rank in (0, 1):
        head, state = take(loader(labels, rank=rank, world_size=2, **options), TAKEN)
        served += rows_served(head)
        states.append(state)
    return served, states


def crash_again(
    labels: Path, state: dict[str, Any], world: int, **options: Any
) -> tuple[list[int], list[dict[str, Any]]]:
    """Rows served by ``world`` ranks resumed from ``state`` taking one batch each, and each
    rank's state after it."""
    served, states = [], []
    for rank in range(world):
        resumed = loader(labels, rank=rank, world_size=world, **options)
        resumed.load_state_dict(state)
        head, after = take(resumed, 1)
        served += rows_served(head)
        states.append(after)
    return served, states


def resume_all(
    labels: Path, state: dict[str, Any], world: int, **options: Any
) -> list[list[tuple[np.ndarray, ...]]]:
    """Each new rank's batches for the rest of the epoch, from ``state``."""
    out = []
    for rank in range(world):
        resumed = loader(labels, rank=rank, world_size=world, **options)
        resumed.load_state_dict(state)
        out.append(list(resumed))
    return out


@pytest.mark.parametrize("world", [1, 3])
def test_resuming_at_another_world_size_serves_exactly_the_rest_of_the_epoch(
    tmp_path: Path, world: int
) -> None:
    n = 37  # 18 rows per rank at world size 2 (one dropped); 21 rows left after 4 x 2 x 2
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    before, states = crash_at_world_two(labels)
    assert sorted(before) == sorted(order[: 2 * TAKEN * BATCH])
    assert states[0]["consumed"] == states[1]["consumed"] == 2 * TAKEN * BATCH
    for state in states:  # either rank's state resumes every new rank
        per_rank = [rows_served(batches) for batches in resume_all(labels, state, world)]
        after = [row for rows in per_rank for row in rows]
        assert len(after) == len(set(after)), "a row served twice after the resume"
        assert sorted(after) == sorted(order[2 * TAKEN * BATCH :]), "rows missing or extra"
        assert not set(after) & set(before), "a row served again"
        assert len({len(rows) for rows in per_rank}) == 1  # equal shares: no rank waits


def test_drop_leaves_out_fewer_than_world_size_rows_the_permutations_last(tmp_path: Path) -> None:
    n = 38  # 22 rows left: 7 for each of 3 ranks, the last row of the permutation dropped
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    _, states = crash_at_world_two(labels)
    per_rank = [rows_served(b) for b in resume_all(labels, states[0], 3)]
    assert [len(rows) for rows in per_rank] == [7, 7, 7]
    assert sorted(r for rows in per_rank for r in rows) == sorted(order[16:37])


def test_pad_serves_the_whole_rest_and_a_short_rank_repeats_its_own_row(tmp_path: Path) -> None:
    n = 38  # 22 rows left: 8 for each of 3 ranks, two of them repeating one of their rows
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    before, states = crash_at_world_two(labels, shard_mode="pad")
    assert sorted(before) == sorted(order[:16])
    per_rank = [rows_served(b) for b in resume_all(labels, states[1], 3, shard_mode="pad")]
    assert [len(rows) for rows in per_rank] == [8, 8, 8]
    after = Counter(r for rows in per_rank for r in rows)
    assert set(after) == set(order[16:])
    repeated = {row for row, times in after.items() if times > 1}
    assert len(repeated) == 2 and all(after[row] == 2 for row in repeated)
    for rows in per_rank:  # a repeat is the rank's own row, so ranks stay disjoint
        assert len(set(rows) & repeated) <= 1
        others = set().union(*(set(r) for r in per_rank if r is not rows))
        assert not set(rows) & others


def test_an_augmented_resumed_sample_is_bit_identical(tmp_path: Path) -> None:
    n = 37
    labels = make_rows(tmp_path, n)
    augment = [RandomResizedCrop(), RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4, 0.1)]
    reference: dict[int, np.ndarray] = {}
    for images, rows in loader(labels, augment=augment, shard_mode="pad"):  # world size 1
        reference.update(zip(rows.tolist(), images, strict=True))
    assert len(reference) == n
    _, states = crash_at_world_two(labels, augment=augment)
    for world in (1, 3):
        served = 0
        for batches in resume_all(labels, states[0], world, augment=augment):
            for images, rows in batches:
                for image, row in zip(images, rows.tolist(), strict=True):
                    np.testing.assert_array_equal(image, reference[row], err_msg=f"row {row}")
                    served += 1
        assert served == n - 2 * TAKEN * BATCH
    # Not vacuous: the augmentation draws differ from row to row of the same file.
    assert not np.array_equal(reference[0], reference[3])


def test_the_next_epoch_is_sharded_as_usual_and_the_state_goes_on(tmp_path: Path) -> None:
    labels = make_rows(tmp_path, 37)
    _, states = crash_at_world_two(labels)
    fresh = [loader(labels, rank=r, world_size=3) for r in range(3)]
    for rank in range(3):
        resumed = loader(labels, rank=rank, world_size=3)
        resumed.load_state_dict(states[0])
        state = resumed.state_dict()
        assert (state["epoch"], state["batch"], state["consumed"]) == (0, 0, 16)
        assert state["world_size"] == 3
        list(resumed)  # the rest of epoch 0
        fresh[rank].epoch = 1
        assert rows_served(list(resumed)) == rows_served(list(fresh[rank]))


def test_a_second_resume_in_the_same_epoch_counts_from_the_global_position(
    tmp_path: Path,
) -> None:
    n = 37
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    before, states = crash_at_world_two(labels)
    middle, middle_states = crash_again(labels, states[0], 3)  # 2 -> 3 ranks, a batch each
    assert middle_states[0]["consumed"] == 16 + 3 * BATCH
    # At the same world size: exactly the batches each saved rank would have served next.
    for rank in range(3):
        again = loader(labels, rank=rank, world_size=3)
        again.load_state_dict(middle_states[rank])
        straight = loader(labels, rank=rank, world_size=3)
        straight.load_state_dict(states[0])
        assert rows_served(list(again)) == rows_served(list(straight))[BATCH:]
    # At another: the rest of the epoch, once.
    (last,) = resume_all(labels, middle_states[2], 1)
    assert sorted(before + middle + rows_served(last)) == sorted(order)


def test_random_access_after_an_elastic_resume_indexes_the_rest(tmp_path: Path) -> None:
    labels = make_rows(tmp_path, 37)
    _, states = crash_at_world_two(labels)
    resumed = loader(labels, rank=2, world_size=3)
    resumed.load_state_dict(states[0])
    assert len(resumed) == 6  # a whole epoch at 3 ranks: 12 rows
    served = list(resumed)
    assert len(served) == 4  # the rest: 7 rows
    for k, (_, rows) in enumerate(served):
        assert resumed.batch(k, epoch=0)[1].tolist() == rows.tolist()
    with pytest.raises(IndexError, match="batch index 4 out of range for 4 batches in the rest"):
        resumed.batch(4, epoch=0)
    assert len(resumed.batch(5, epoch=1)[1]) == BATCH  # epoch 1 is whole


@pytest.mark.parametrize(("change", "message"), [
    ({"batch_size": 3}, "state has batch_size=2 but this loader has batch_size=3"),
    ({"seed": 4}, "state has seed=3 but this loader has seed=4: build the loader with seed=None"),
    ({"shuffle": False}, "state has shuffle=True but this loader has shuffle=False"),
])  # fmt: skip
def test_a_state_with_another_order_is_refused(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    labels = make_rows(tmp_path, 37)
    _, states = crash_at_world_two(labels)
    with pytest.raises(ValueError, match=message):
        loader(labels, rank=0, world_size=3, **change).load_state_dict(states[0])


def test_a_state_from_another_dataset_is_refused(tmp_path: Path) -> None:
    labels = make_rows(tmp_path / "a", 37)
    _, states = crash_at_world_two(labels)
    other = make_rows(tmp_path / "b", 38)
    with pytest.raises(ValueError, match="state has samples=37 but this loader has samples=38"):
        loader(other).load_state_dict(states[0])
    relabelled = tmp_path / "b" / "list.txt"  # same length, one label changed
    relabelled.write_text(labels.read_text(encoding="utf-8").replace(" 5\n", " 6\n"), "utf-8")
    with pytest.raises(ValueError, match=r"state has fingerprint=.* another dataset"):
        loader(relabelled).load_state_dict(states[0])
    moved = tmp_path / "c"  # the same rows in another folder: the same dataset
    make_rows(moved, 37)
    resumed = loader(moved / "list.txt", seed=None)
    resumed.load_state_dict(states[0])
    assert resumed.seed == SEED  # seed=None takes the state's


def test_a_state_from_before_elastic_resume_still_loads(tmp_path: Path) -> None:
    labels = make_rows(tmp_path, 37)
    head, state = take(loader(labels), 3)
    for key in ("consumed", "fingerprint"):
        del state[key]
    state["version"] = 1
    resumed = loader(labels)
    resumed.load_state_dict(state)
    rest = rows_served(list(resumed))
    assert rows_served(head) + rest == epoch_order(37, shuffle=True, seed=SEED, epoch=0).tolist()


def test_malformed_resume_points_are_refused() -> None:
    base = {"epoch": 0, "batch": 2, "world_size": 2, "batch_size": 4}
    assert resume_point({**base, "consumed": 20}, samples=30) == ResumePoint(0, 4, 2)
    with pytest.raises(ValueError, match="state consumed=12 does not fit 30 samples"):
        resume_point({**base, "consumed": 12}, samples=30)
    with pytest.raises(ValueError, match="state consumed=40 does not fit"):
        resume_point({**base, "consumed": 40}, samples=30)
    with pytest.raises(ValueError, match="must be non-negative ints"):
        resume_point({**base, "batch": -1}, samples=30)


def test_a_rest_too_short_for_a_batch_on_each_rank_still_ends_the_epoch(tmp_path: Path) -> None:
    labels = make_rows(tmp_path, 37)
    options: dict[str, Any] = {"drop_last": True}
    _, state = take(loader(labels, rank=0, world_size=2, **options), 8)  # 32 rows out, 5 left
    resumed = loader(labels, rank=2, world_size=3, **options)
    resumed.load_state_dict(state)
    assert list(resumed) == []  # 1 row for each of 3 ranks: no whole batch of 2
    assert resumed.epoch == 1, "an epoch without a batch must still end"
    assert (resumed.state_dict()["epoch"], resumed.state_dict()["consumed"]) == (1, 0)
    fresh = loader(labels, rank=2, world_size=3, **options)
    fresh.epoch = 1
    assert rows_served(list(resumed)) == rows_served(list(fresh))


def test_rows_of_with_index_batches_are_the_rest_of_the_epoch(tmp_path: Path) -> None:
    n = 37
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    _, states = crash_at_world_two(labels)
    served = []
    for batches in resume_all(labels, states[1], 3, with_index=True):
        for _, targets, rows in batches:
            assert rows.dtype == np.int64 and rows.tolist() == targets.tolist()
            served += rows.tolist()
    assert sorted(served) == sorted(order[2 * TAKEN * BATCH :])


def test_a_state_holding_numpy_integers_loads_and_gives_plain_ints_back(tmp_path: Path) -> None:
    labels = make_rows(tmp_path, 37)
    _, states = crash_at_world_two(labels)
    state = {k: np.int64(v) if type(v) is int else v for k, v in states[0].items()}
    resumed = loader(labels, rank=0, world_size=3, seed=None)
    resumed.load_state_dict(state)
    assert resumed.seed == SEED and type(resumed.seed) is int
    again = json.loads(json.dumps(resumed.state_dict()))  # TypeError on a numpy int
    assert (again["epoch"], again["consumed"], again["seed"]) == (0, 16, SEED)


def test_a_second_restart_from_three_ranks_to_two_with_pad_and_a_partial_batch(
    tmp_path: Path,
) -> None:
    n = 39  # 16 rows out at 2 ranks, 6 more at 3, then 17 left: 9 for each of 2 ranks
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    options: dict[str, Any] = {"shard_mode": "pad"}
    before, states = crash_at_world_two(labels, **options)
    middle, middle_states = crash_again(labels, states[1], 3, **options)
    assert sorted(before + middle) == sorted(order[:22])
    last = [rows_served(b) for b in resume_all(labels, middle_states[0], 2, **options)]
    assert [len(rows) for rows in last] == [9, 9]  # 4 batches of 2 and a partial one of 1
    after = Counter(row for rows in last for row in rows)
    assert set(after) == set(order[22:]) and sum(after.values()) == 18
    (repeated,) = (row for row, times in after.items() if times == 2)
    assert repeated in last[1] and repeated not in last[0]  # rank 1 repeats its own row


def test_after_a_skip_a_resume_misses_no_row_and_repeats_at_most_the_replacement(
    tmp_path: Path,
) -> None:
    n = 20
    labels = make_rows(tmp_path, n)
    order = epoch_order(n, shuffle=True, seed=SEED, epoch=0).tolist()
    bad = order[2]  # in the second batch: its replacement is taken from further on
    write(tmp_path / "bad.png", b"not an image")
    lines = labels.read_text(encoding="utf-8").splitlines()
    lines[bad] = f"bad.png {bad}"
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(ImgbatchWarning, match="bad.png"):
        head, state = take(loader(labels, on_error="skip"), 3)
    resumed = loader(labels, on_error="skip")
    resumed.load_state_dict(state)
    rest = rows_served(list(resumed))  # the bad file is behind the resume point
    served = Counter(rows_served(head) + rest)
    assert set(served) == set(order) - {bad}  # the docs: nothing missing ...
    assert sum(served.values()) - len(served) <= 1  # ... one replacement row at most twice
