import pytest

from congdoan.core import paths as tree
from congdoan.core.text import normalize_search


@pytest.mark.parametrize("raw,expected", [
    ("Nguyễn Văn An", "nguyen van an"),
    ("ĐẶNG THỊ  Đào", "dang thi dao"),
    ("Trần   Thị\tBích", "tran thi bich"),
    ("Nguye\u0302\u0303n", "nguyen"),  # decomposed input (NFD) folds the same
    ("", ""),
    (None, ""),
])
def test_normalize_search(raw, expected):
    assert normalize_search(raw) == expected


def test_segments_round_trip():
    for n in (0, 1, 35, 36, 1295, 46655, tree.MAX_CHILDREN - 1):
        assert tree.decode_segment(tree.encode_segment(n)) == n
    with pytest.raises(ValueError):
        tree.encode_segment(tree.MAX_CHILDREN)


def test_successor_bounds_every_descendant():
    p = "0000000Z"
    end = tree.successor(p)
    assert end == "0000001"
    for child in (p, p + "0000", p + "ZZZZ", p + "ZZZZZZZZ"):
        assert p <= child < end
    assert not (p <= "00000010" < end)  # the next sibling lies outside
    assert tree.successor("ZZZZ") is None


def test_collapse_drops_nested_paths():
    assert tree.collapse(["00010002", "0001", "0003", "00030001"]) == ["0001", "0003"]
