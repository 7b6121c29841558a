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


# --- language and number formats -------------------------------------------------------------

def test_pages_stay_vietnamese_for_an_english_browser_until_english_is_chosen(client, db):
    page = client.get("/accounts/login/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert 'lang="vi"' in page.content.decode() and "Đăng nhập" in page.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert 'lang="en"' in client.get("/accounts/login/").content.decode()


def test_the_api_honours_accept_language(client, db):
    vi = client.get("/api/members/", headers={"Accept-Language": "vi"})
    en = client.get("/api/members/", headers={"Accept-Language": "en"})
    assert vi.status_code == en.status_code == 401
    assert vi.json()["message"] != en.json()["message"]


def test_vietnamese_numbers_are_grouped_with_dots():
    from django.contrib.humanize.templatetags.humanize import intcomma
    from django.utils import translation

    with translation.override("vi"):
        assert intcomma(1234567) == "1.234.567"
    with translation.override("en"):
        assert intcomma(1234567) == "1,234,567"
