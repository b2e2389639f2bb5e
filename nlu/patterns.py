"""Lexicons and patterns behind the rule-based entities.

Everything here is data: ticket-reference forms, urgency and impact cues, the built-in service
catalog and the default services used until the configuration database provides its own.
"""

from __future__ import annotations

import re

from nlu.types import CatalogEntry

# Ticket kinds by prefix; the words people use for them in English and Chinese.
TICKET_PREFIXES = {"inc": "INC", "req": "REQ", "prb": "PRB", "chg": "CHG"}
_KIND_WORDS = {
    "incident": "INC", "incidents": "INC", "inc": "INC", "事件": "INC", "故障单": "INC",
    "事件单": "INC", "request": "REQ", "req": "REQ", "请求单": "REQ", "服务请求": "REQ",
    "problem": "PRB", "prb": "PRB", "问题单": "PRB", "change": "CHG", "chg": "CHG",
    "变更": "CHG", "变更单": "CHG", "ticket": "", "case": "", "工单": "", "单号": "",
}  # fmt: skip

TICKET_CODE = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<kind>inc|req|prb|chg)[-_ ]?#?(?P<num>\d{1,9})(?![A-Za-z0-9_-])", re.I
)
# "incident 1042", "ticket #1042", "change no. 2031", "工单1042": a kind word then a number.
TICKET_WORD = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<kind>incidents?|request|problem|change|ticket|case|"
    r"事件单|事件|故障单|请求单|服务请求|问题单|变更单|变更|工单|单号)"
    r"\s*(?P<marker>(?:number|no\.?|num|nr\.?|id|编号|号)\s*[:：]?\s*)?"
    r"(?P<hash>#)?\s*(?P<num>\d{1,9})(?![A-Za-z0-9_-])",
    re.I,
)
# "#1042" alone: a ticket only when digits follow the hash (not "#general", "#C024BE7LR").
TICKET_HASH = re.compile(r"(?<![A-Za-z0-9_&#])#(?P<num>\d{2,9})(?![A-Za-z0-9_-])")


def ticket_kind(word: str) -> str:
    """Ticket prefix for a kind word ("incident" → "INC"; "" when the word names no kind)."""
    return _KIND_WORDS.get(word.lower(), "")


# Urgency: how soon it must be fixed, from words and tone. Longer cues first where they overlap.
URGENCY_CUES: dict[str, tuple[str, ...]] = {
    "high": (
        "asap", "a.s.a.p", "urgent", "urgently", "emergency", "critical", "immediately",
        "right now", "right away", "straight away", "as soon as possible", "nobody can work",
        "no one can work", "can't work", "cannot work", "can not work", "unable to work",
        "dead in the water", "blocking", "blocker", "production is down", "prod is down",
        "top priority", "high priority", "p1", "sev1", "sev 1", "losing money",
        "customers are affected",
        "customer facing", "deadline today", "need it now", "need this now",
        "紧急", "非常急", "很急", "特急", "急", "马上", "立刻", "立即", "尽快", "赶紧",
        "无法工作", "没法工作", "干不了活", "影响生产", "十万火急",
    ),
    "medium": (
        "soon", "today if possible", "when you can", "sometime today", "by tomorrow",
        "by end of day", "by eod", "eod", "this week", "fairly urgent", "somewhat urgent",
        "medium priority", "今天之内", "今天内", "这周", "本周", "尽量今天",
    ),
    "low": (
        "whenever", "no rush", "no hurry", "not urgent", "no urgency", "low priority",
        "when you get a chance", "when you have time", "when you get time", "at your leisure",
        "not a big deal", "no big deal", "not critical", "not a priority", "take your time",
        "by next week", "nice to have", "不急", "不着急", "不紧急", "有空", "有时间的时候",
        "慢慢来", "方便的时候",
    ),
}  # fmt: skip
# Tone: two or more exclamation marks, a shouted alarm word, or an alarm emoji (as a Slack code
# or as the character itself).
URGENCY_TONE = re.compile(
    r"[!！]{2,}|‼|(?<![A-Za-z])(?:HELP|NOW|DOWN|BROKEN|URGENT|ASAP)(?![A-Za-z])"
    r"|:(?:fire|rotating_light|sos|bangbang|boom|rage|scream):|[\U0001F525\U0001F6A8\U0001F198]"
)

# Impact: how many people it touches.
IMPACT_CUES: dict[str, tuple[str, ...]] = {
    "high": (
        "whole office", "entire office", "whole company", "entire company", "whole building",
        "entire building", "whole floor", "entire floor", "whole team", "entire team",
        "whole department", "entire department", "whole site", "all offices", "everyone",
        "everybody", "all users", "all staff", "all employees", "all of us", "nobody",
        "no one", "company-wide", "company wide", "companywide", "organisation-wide",
        "organization-wide", "all customers", "every user", "the whole region", "all sites",
        "全公司", "整个公司", "整个办公室", "整个部门", "整层", "整栋楼", "所有人", "大家",
        "全部用户", "所有用户", "全体员工", "没有人", "谁都", "全员",
    ),
    "medium": (
        "my team", "our team", "a few people", "several people", "some users", "some people",
        "a couple of people", "a couple of us", "few colleagues", "several users",
        "my department", "our department", "half the team", "我们组", "我们团队", "几个人",
        "部分用户", "一些人", "有些同事", "几个同事",
    ),
    "low": (
        "just me", "only me", "only for me", "just for me", "only my", "just my", "only affects me",
        "only mine", "me alone", "only i", "just i", "只有我", "就我", "仅我", "只是我", "就我一个",
    ),
}  # fmt: skip

# "the whole Berlin office", "all of the sales team": a whole place or group, with up to two
# words between.
IMPACT_WIDE = re.compile(
    r"\b(?:whole|entire|all(?:\s+of)?(?:\s+the)?|every)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:office|offices|building|floor|company|team|teams|department|site|sites|region|org|"
    r"organi[sz]ation|staff|branch|warehouse|store|stores|plant|campus|users|employees|"
    r"customers|country)\b",
    re.I,
)

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A phone number candidate: optional +/00 country code, then digits with spaces, dots, dashes
# or brackets; `entities` keeps it only when it normalises to E.164.
PHONE = re.compile(r"(?<![A-Za-z0-9_+#/.:-])(?:\+|00)?\(?\d[\d\s().-]{5,18}\d(?![A-Za-z0-9_/:-])")

DEFAULT_CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(name="password reset", aliases=(
        "password reset", "reset my password", "reset password", "reset the password",
        "reset of my password", "forgot my password", "forgotten password", "forgot password",
        "new password", "password change", "change my password", "pw reset", "pwd reset",
        "reset my pw", "reset my pwd", "重置密码", "密码重置", "忘记密码", "忘了密码", "改密码",
        "修改密码",
    )),
    CatalogEntry(name="account unlock", aliases=(
        "unlock my account", "account unlock", "account locked", "locked out", "unlock account",
        "账号锁定", "账户锁定", "解锁账号", "解锁账户", "账号被锁",
    )),
    CatalogEntry(name="access request", aliases=(
        "access request", "request access", "need access", "access to", "permission to",
        "permissions for", "grant me access", "give me access", "get access", "admin rights",
        "admin access", "开通权限", "申请权限", "访问权限", "权限",
    )),
    CatalogEntry(name="new laptop", aliases=(
        "new laptop", "replacement laptop", "laptop replacement", "new notebook",
        "new computer", "new macbook", "new pc", "laptop refresh", "新电脑", "新笔记本",
        "换电脑", "新的笔记本", "新的电脑",
    )),
    CatalogEntry(name="software install", aliases=(
        "software install", "install software", "software installation", "install", "installed",
        "installation", "安装软件", "软件安装", "装软件", "安装",
    )),
    CatalogEntry(name="software license", aliases=(
        "license", "licence", "licenses", "licences", "seat", "subscription", "许可证", "授权",
        "许可",
    )),
    CatalogEntry(name="new monitor", aliases=(
        "new monitor", "second monitor", "extra monitor", "external monitor", "new screen",
        "显示器", "新显示器",
    )),
    CatalogEntry(name="new account", aliases=(
        "new account", "create an account", "account for a new", "new starter", "new hire",
        "onboarding", "new employee", "新账号", "开账号", "新员工", "入职",
    )),
    CatalogEntry(name="shared mailbox", aliases=(
        "shared mailbox", "shared inbox", "team mailbox", "共享邮箱",
    )),
    CatalogEntry(name="distribution list", aliases=(
        "distribution list", "mailing list", "dl", "email group", "邮件组", "邮件列表",
    )),
    CatalogEntry(name="mobile phone", aliases=(
        "mobile phone", "new phone", "work phone", "company phone", "iphone", "sim card",
        "手机", "工作手机", "电话卡",
    )),
    CatalogEntry(name="headset", aliases=("headset", "headphones", "耳机", "耳麦")),
    CatalogEntry(name="vpn access", aliases=("vpn access", "vpn account", "vpn token", "开通vpn")),
    CatalogEntry(name="printer access", aliases=(
        "printer access", "add a printer", "add printer", "printer setup", "map the printer",
        "添加打印机", "连接打印机",
    )),
)  # fmt: skip

DEFAULT_SERVICES: tuple[CatalogEntry, ...] = (
    CatalogEntry(name="VPN", aliases=("vpn", "globalprotect", "anyconnect", "remote access")),
    CatalogEntry(name="Email", aliases=(
        "email", "e-mail", "mail", "outlook", "exchange", "inbox", "邮箱", "邮件", "电子邮件",
    )),
    CatalogEntry(name="Wi-Fi", aliases=("wifi", "wi-fi", "wireless", "wlan", "无线", "无线网")),
    CatalogEntry(name="Network", aliases=("network", "internet", "lan", "ethernet", "网络", "网")),
    CatalogEntry(name="Microsoft Teams", aliases=("teams", "ms teams", "msteams")),
    CatalogEntry(name="Slack", aliases=("slack",)),
    CatalogEntry(name="Zoom", aliases=("zoom",)),
    CatalogEntry(name="SAP", aliases=("sap", "sap erp", "erp")),
    CatalogEntry(name="Salesforce", aliases=("salesforce", "sfdc", "crm")),
    CatalogEntry(name="Jira", aliases=("jira",)),
    CatalogEntry(name="Confluence", aliases=("confluence", "wiki")),
    CatalogEntry(name="GitHub", aliases=("github", "git")),
    CatalogEntry(name="SharePoint", aliases=("sharepoint", "intranet")),
    CatalogEntry(name="OneDrive", aliases=("onedrive", "one drive", "file share", "shared drive")),
    CatalogEntry(name="Printing", aliases=(
        "printer", "printers", "printing", "print", "打印机", "打印",
    )),
    CatalogEntry(name="Active Directory", aliases=(
        "active directory", "ad", "ldap", "sso", "single sign-on", "okta",
    )),
    CatalogEntry(name="Payroll", aliases=("payroll", "workday", "工资系统")),
    CatalogEntry(name="Phone system", aliases=(
        "phone system", "telephony", "voip", "desk phone", "电话系统", "座机",
    )),
    CatalogEntry(name="Website", aliases=(
        "website", "web site", "web shop", "webshop", "官网", "网站",
    )),
)  # fmt: skip
