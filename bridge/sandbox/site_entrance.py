"""The home page of a site with variants, as real bureau sites have it: news-like site
navigation and one link 政府信息公开 to the disclosure entrance, which links the columns.

On a default site the home page links the six columns itself (nav and side menu). A real
bureau's home page links 教育新闻, 办事服务, 互动交流 … and an entrance page (TRS: ``/xxgk/``,
Hanweb: a ``/col/colN/`` page of its own) whose left menu and catalog link the columns;
``bridge init`` has to go through it. The site sections have pages without a listing (a
column page of another system, a form), so a reader that keeps every link as a column
finds nothing to list there.
"""

from __future__ import annotations

import html

from bridge.sandbox.site_columns import TOP, column
from bridge.sandbox.site_model import ItemInfo, SiteOptions
from bridge.sandbox.site_pages import column_url, page, render_home
from bridge.sandbox.site_variants import site_meta_tags

ENTRANCE = {"trs": "/xxgk/index.html", "hanweb": "/col/col1228/index.html"}
"""The 政府信息公开 entrance page per CMS style (Hanweb's is a column page of its own)."""
ENTRANCE_NAME = "政府信息公开"

SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("/jyxw/index.html", "教育新闻", "本栏目发布余姚教育新闻，请通过“最新公开”浏览。"),
    ("/bsfw/index.html", "办事服务", "办事服务已并入浙江政务服务网余姚市教育局页面。"),
    ("/hdjl/index.html", "互动交流", "局长信箱、在线咨询请登录浙江政务服务网办理。"),
)
"""The site's other sections: (path, name, the one paragraph their page shows)."""


def home_menus(opts: SiteOptions) -> tuple[str, str]:
    """The home page's nav: the sections and the entrance; no side menu."""
    links = [(p, n) for p, n, _ in SECTIONS[:1]]
    links += [(ENTRANCE[opts.style], ENTRANCE_NAME), *((p, n) for p, n, _ in SECTIONS[1:])]
    return "\n".join(f'<li><a href="{u}">{n}</a></li>' for u, n in links), ""


def render_home_page(newest: list[ItemInfo], opts: SiteOptions) -> bytes:
    return render_home(newest, opts, home_menus(opts))


def render_entrance(opts: SiteOptions) -> bytes:
    """The entrance: the site chrome (its left menu lists every column) and the catalog,
    a block per top column with its name and a 更多 link."""
    blocks = []
    for key, _name, _ in TOP:
        col, url = column(key), column_url(key, opts)
        blocks.append(
            f'<div class="gk-block"><h3><a href="{url}">{html.escape(col.name)}</a></h3>'
            f'<a class="more" href="{url}">更多</a></div>'
        )
    guide = (
        '<ul class="gk-guide"><li><a href="/xxgk/gkzn.html">信息公开指南</a></li>'
        '<li><a href="/xxgk/ysqgk.html">依申请公开</a></li></ul>'
    )
    main = f'<div class="column-title"><h2>{ENTRANCE_NAME}</h2></div>\n{guide}\n' + "\n".join(
        blocks
    )
    crumb = f'&gt; <a href="{ENTRANCE[opts.style]}">{ENTRANCE_NAME}</a>'
    return page(f"{ENTRANCE_NAME} - 余姚教育网", crumb, main, opts, head=site_meta_tags())


def render_section(path: str, opts: SiteOptions) -> bytes:
    """A site section's page: a paragraph, no listing."""
    name, text = next((n, t) for p, n, t in SECTIONS if p == path)
    main = f'<div class="column-title"><h2>{name}</h2></div>\n<p>{html.escape(text)}</p>'
    crumb = f'&gt; <a href="{path}">{name}</a>'
    return page(
        f"{name} - 余姚教育网", crumb, main, opts, head=site_meta_tags(), menus=home_menus(opts)
    )


def entrance_pages(opts: SiteOptions) -> dict[str, bytes]:
    """URL path → page: the entrance and the sections (the home page is written apart)."""
    out = {ENTRANCE[opts.style]: render_entrance(opts)}
    out.update({p: render_section(p, opts) for p, _, _ in SECTIONS})
    return out
