"""Post links: the platform of a pasted link and its normalised key."""

from __future__ import annotations

import pytest

from koc.services import links
from scrm.errors import InvalidInput


@pytest.mark.parametrize(("url", "platform", "key"), [
    ("https://www.xiaohongshu.com/explore/64a1b2c3?xsec_token=AB12&xsec_source=pc_share", "xiaohongshu",
     "xiaohongshu.com/explore/64a1b2c3"),
    ("http://XiaoHongShu.com/discovery/item/64a1b2c3/#comments", "xiaohongshu", "xiaohongshu.com/explore/64a1b2c3"),
    ("https://xhslink.com/a/Ab3dEf", "xiaohongshu", "xhslink.com/a/Ab3dEf"),
    ("https://www.douyin.com/video/7301?previous_page=app_code_link", "douyin", "douyin.com/video/7301"),
    ("https://www.douyin.com/discover?modal_id=7301&utm_source=x", "douyin", "douyin.com/video/7301"),
    ("https://www.iesdouyin.com/share/video/7301/?region=CN&share_sign=zz", "douyin", "douyin.com/video/7301"),
    ("https://weixin.qq.com/sph/AbC123", "channels", "weixin.qq.com/sph/AbC123"),
    ("https://channels.weixin.qq.com/web/pages/feed?feedid=export/Xyz&token=abc", "channels",
     "channels.weixin.qq.com/web/pages/feed?feedid=export%2FXyz"),
    ("https://mp.weixin.qq.com/s?__biz=MzA5&mid=2650&idx=1&sn=8f3c&chksm=aa11&scene=21#wechat_redirect", "moments",
     "mp.weixin.qq.com/s?__biz=MzA5&idx=1&mid=2650&sn=8f3c"),
    ("https://m.weibo.cn/detail/4950123456", "weibo", "weibo.cn/status/4950123456"),
    ("https://weibo.com/1234567/NaBcD?from=page_100&utm_medium=share", "weibo", "weibo.com/1234567/NaBcD"),
    ("https://m.bilibili.com/video/BV1xx411c7mD/?share_source=copy_web&vd_source=ab&p=2", "bilibili",
     "bilibili.com/video/BV1xx411c7mD?p=2"),
    ("https://b23.tv/AbCdE", "bilibili", "b23.tv/AbCdE"),
])
def test_each_platform_and_its_key(url, platform, key):
    assert links.classify(url) == (platform, key)


def test_the_same_post_however_it_is_pasted_has_one_key():
    spellings = [
        "https://www.xiaohongshu.com/explore/65f0aa?xsec_token=ABC&xsec_source=app_share&type=normal",
        "http://xiaohongshu.com/explore/65f0aa/",
        "  https://WWW.XIAOHONGSHU.COM/explore/65f0aa#top  ",
        "https://m.xiaohongshu.com/discovery/item/65f0aa?share_from_user_hidden=true&utm_campaign=koc",
    ]
    assert len({links.classify(url)[1] for url in spellings}) == 1
    # The content's id keeps its case: two ids differing only by case are two posts.
    assert links.classify("https://b23.tv/AbC")[1] != links.classify("https://b23.tv/abc")[1]


@pytest.mark.parametrize("url", ["", "   ", "not a link", "xiaohongshu.com/explore/1", "ftp://xiaohongshu.com/x",
                                 "javascript:alert(1)", "https://", "https://exa mple.com/x", None, 42])
def test_what_is_not_a_web_link_is_refused_naming_the_url(url):
    with pytest.raises(InvalidInput) as caught:
        links.classify(url)
    assert list(caught.value.details) == ["url"]


@pytest.mark.parametrize("url", ["https://example.com/post/1", "https://www.taobao.com/item/1",
                                 "https://xiaohongshu.com.evil.cn/explore/1", "https://notdouyin.com/video/1",
                                 "https://qq.com/x"])
def test_a_host_on_no_known_platform_is_refused(url):
    with pytest.raises(InvalidInput) as caught:
        links.classify(url)
    assert "not on a platform" in caught.value.details["url"][0]


def test_a_platform_given_must_match_the_host():
    assert links.classify("https://www.douyin.com/video/1", "douyin")[0] == "douyin"
    with pytest.raises(InvalidInput) as caught:
        links.classify("https://www.douyin.com/video/1", "xiaohongshu")
    assert "Douyin link, not Xiaohongshu" in caught.value.details["url"][0]
    with pytest.raises(InvalidInput) as caught:
        links.classify("https://www.douyin.com/video/1", "myspace")
    assert "platform" in caught.value.details


def test_a_link_too_long_is_refused():
    with pytest.raises(InvalidInput):
        links.classify("https://www.xiaohongshu.com/explore/" + "a" * 500)
