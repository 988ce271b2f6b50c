"""What an upload is, from its content: files that are not sheets are refused saying what they look
like (nothing kept), workbooks that unpack past the limit too, large workbooks never run inside the
request; a CSV's encoding is detected with charset-normalizer or chosen, and refused when unclear
or contradicted, never guessed. Real files in each encoding, real PostgreSQL."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from rest_framework.test import APIClient

from members.io import services
from members.io.models import ImportJob, ImportStatus
from members.models import Member
from tests.huge_cells import HUGE, xlsx_with_huge_shared_string
from tests.members.io.conftest import run_import, upload, xlsx_bytes

pytestmark = pytest.mark.django_db

# A store's list of members: twenty names (a handful of short names alone can read as several
# encodings, and is refused until the encoding is chosen; see below).
JAPANESE = [
    "山田太郎",
    "佐藤花子",
    "鈴木一郎",
    "高橋美咲",
    "田中健太",
    "伊藤裕子",
    "渡辺翔太",
    "中村さくら",
    "小林直樹",
    "加藤あゆみ",
    "吉田拓也",
    "山本由美",
    "松本大輔",
    "井上真央",
    "木村拓哉",
    "林美穂",
    "清水健一",
    "山崎愛",
    "森田翔",
    "池田恵子",
]
TRADITIONAL = [
    "陳大文",
    "林美麗",
    "黃志明",
    "張淑芬",
    "王小明",
    "李國華",
    "吳佩珊",
    "劉建宏",
    "蔡宜臻",
    "楊冠廷",
    "許雅婷",
    "鄭家豪",
    "謝欣怡",
    "洪俊傑",
    "郭芷若",
    "曾文彬",
    "邱淑惠",
    "廖振宇",
    "賴怡君",
    "周杰倫",
]
SIMPLIFIED = [
    "张三",
    "李四",
    "王五",
    "赵六",
    "钱七",
    "孙丽",
    "周杰",
    "吴敏",
    "郑强",
    "冯军",
    "陈静",
    "褚宁",
    "卫东",
    "蒋欣",
    "沈阳",
    "韩梅",
    "杨洋",
    "朱琳",
    "秦岚",
    "许晴",
]


def members_file(names, header="name,phone,wecom") -> str:
    return header + "\n" + "".join(f"{name},1380013{i:04d},wm{i}\n" for i, name in enumerate(names))


def kept_files(settings) -> list[str]:
    root = settings.MEDIA_ROOT
    return [name for _dir, _dirs, names in os.walk(root) for name in names] if os.path.isdir(root) else []


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# --- what the file is -------------------------------------------------------------------------

NOT_SHEETS = [
    ("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "a PNG image"),
    ("scan.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
    ("members.xlsx", zip_bytes({"readme.txt": b"hello", "data/a.csv": b"name\n"}), "a ZIP archive"),
    ("letter.xlsx", zip_bytes({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<T/>"}), "a Word document"),
    ("export.xls", b"\xef\xbb\xbf  <!DOCTYPE html><html><body><table><tr><td>a</td></tr></table>", "a web page"),
    ("dump.csv", bytes(range(256)) * 8, "a binary file"),
]


@pytest.mark.parametrize(("name", "content", "what"), NOT_SHEETS, ids=[n for n, _c, _w in NOT_SHEETS])
def test_a_file_that_is_no_sheet_is_refused_saying_what_it_looks_like(alice, settings, name, content, what):
    with pytest.raises(services.ImportRefused) as refused:
        services.create_import(actor=alice, upload=upload(content, name), mode="strict")
    assert refused.value.status == 400 and what in refused.value.message, refused.value.message
    assert refused.value.details == {"file": [refused.value.message]}
    assert not ImportJob.objects.exists() and kept_files(settings) == []


def test_the_api_and_the_form_refuse_it_in_their_own_shape(alice, client):
    api = APIClient()
    api.force_login(alice)
    handle = io.BytesIO(NOT_SHEETS[0][1])
    handle.name = "photo.csv"
    response = api.post("/api/v1/imports/", {"file": handle, "mode": "dry_run"}, format="multipart")
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "validation_error" and "a PNG image" in body["details"]["file"][0]
    client.force_login(alice)
    handle = io.BytesIO(NOT_SHEETS[1][1])
    handle.name = "scan.csv"
    page = client.post("/members/import/", {"file": handle, "mode": "dry_run"})
    assert page.status_code == 400 and "a PDF document" in page.content.decode()
    assert not ImportJob.objects.exists()


def test_a_workbook_that_unpacks_to_a_hundred_megabytes_is_refused_at_upload(alice, settings):
    """A small file (~100 KB) whose one cell inflates to 100 MiB: refused before anything reads
    its sheet, with both sizes; nothing kept, no job left half-way."""
    content = xlsx_with_huge_shared_string([["name", "phone"], [HUGE, "13800138000"]], "x" * (100 * 1024 * 1024))
    assert len(content) < 400_000
    with pytest.raises(services.ImportRefused) as refused:
        services.create_import(actor=alice, upload=upload(content, "members.xlsx"), mode="strict")
    assert refused.value.status == 400 and "unpacks to 100.0 MB" in refused.value.message.replace("\xa0", " ")
    assert not ImportJob.objects.exists() and kept_files(settings) == []


def test_a_workbook_that_unpacks_past_the_inline_limit_runs_in_a_worker(alice, store_a, settings):
    settings.MEMBER_IMPORT_INLINE_MAX_INFLATED_BYTES = 2000  # a small workbook unpacks to ~6 KB
    content = xlsx_bytes([["name", "phone"], ["张三", "13800138000"]])
    assert len(content) < services.inline_max_bytes()
    job = services.create_import(actor=alice, upload=upload(content, "members.xlsx"), mode="strict")
    services.start_import(job=job)  # queued on commit, which this test's transaction never does
    job.refresh_from_db()
    assert job.status == ImportStatus.PENDING and job.attempts == 0
    assert not Member.objects.exists()


# --- encodings --------------------------------------------------------------------------------

REAL_FILES = [
    ("shift_jis", members_file(JAPANESE).encode("shift_jis"), JAPANESE),
    ("big5", members_file(TRADITIONAL).encode("big5"), TRADITIONAL),
    ("gbk", members_file(SIMPLIFIED, "姓名,手机号,企业微信").encode("gbk"), SIMPLIFIED),
    ("utf-8-bom", b"\xef\xbb\xbf" + members_file(JAPANESE + SIMPLIFIED).encode(), JAPANESE + SIMPLIFIED),
    (
        "utf-16",
        members_file(TRADITIONAL + JAPANESE, "name\tphone\twecom").replace(",", "\t").encode("utf-16"),
        TRADITIONAL + JAPANESE,
    ),
]


@pytest.mark.parametrize(("label", "content", "names"), REAL_FILES, ids=[label for label, _c, _n in REAL_FILES])
def test_files_in_each_encoding_import_their_names_as_written(alice, store_a, label, content, names):
    job = run_import(alice, content, mode="strict")
    assert job.status == ImportStatus.DONE, (job.summary, job.errors[:3])
    assert sorted(Member.objects.values_list("name", flat=True)) == sorted(names)


def test_shift_jis_declared_as_gb18030_is_refused_naming_what_it_looks_like(alice, store_a):
    """Read as GB18030, 山田太郎 would have become 嶳揷懢榊: the declared encoding is contradicted
    by what the text clearly is, so the upload is refused and nothing imported."""
    content = members_file(JAPANESE).encode("shift_jis")
    with pytest.raises(services.ImportRefused) as refused:
        services.create_import(actor=alice, upload=upload(content), mode="strict", encoding="gb18030")
    assert refused.value.code == "encoding_unclear"
    assert "You chose GB18030" in refused.value.message and "Shift_JIS" in refused.value.message
    assert refused.value.details == {"encoding": [refused.value.message]}
    assert not ImportJob.objects.exists() and not Member.objects.exists()


def test_an_unclear_file_is_refused_then_imported_in_the_encoding_chosen(alice, store_a, client):
    """One short name could be GB18030, EUC-KR or EUC-JP: the form says so beside the encoding
    choice; chosen, it imports as chosen."""
    content = "name,phone\n张三,13800138000\n".encode("gb18030")
    client.force_login(alice)
    handle = io.BytesIO(content)
    handle.name = "members.csv"
    page = client.post("/members/import/", {"file": handle, "mode": "strict"})
    assert page.status_code == 400
    assert page.context["form"].errors["encoding"][0].startswith("The file's encoding cannot be told for sure")
    assert "GB18030" in page.context["form"].errors["encoding"][0]
    assert not ImportJob.objects.exists()
    handle = io.BytesIO(content)
    handle.name = "members.csv"
    page = client.post("/members/import/", {"file": handle, "mode": "strict", "encoding": "gb18030"})
    assert page.status_code == 302
    assert Member.objects.get().name == "张三"
    assert ImportJob.objects.get().encoding == "gb18030"


def test_the_api_takes_an_encoding_and_refuses_an_unknown_one(alice, store_a):
    api = APIClient()
    api.force_login(alice)
    content = "name,phone\n陳大文,13800138000\n".encode("big5")

    def post(**extra):
        handle = io.BytesIO(content)
        handle.name = "members.csv"
        return api.post("/api/v1/imports/", {"file": handle, "mode": "strict", **extra}, format="multipart")

    refused = post(encoding="klingon")
    assert refused.status_code == 400 and "encoding" in refused.json()["error"]["details"]
    unclear = post()
    assert unclear.status_code == 400 and unclear.json()["error"]["code"] == "encoding_unclear"
    done = post(encoding="big5")
    assert done.status_code == 201, done.content
    assert done.json()["encoding"] == "big5" and Member.objects.get().name == "陳大文"
