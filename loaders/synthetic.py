"""A deterministic synthetic registry in the canonical formats of docs/formats.md.

`generate(out_dir, enterprises=N, seed=S)` writes what a city's public-credit platform receives
from registries, departments and courts, for N legal persons:

- `legal_persons.csv`: N legal persons across the districts of the five reference cities
  (Xiamen 3502, Fuzhou 3501, Quanzhou 3505, Foshan 4406, Chaozhou 4451). About 76% are
  enterprises (有限公司, 股份有限公司, 合伙企业 and 分公司 branches of earlier firms), 18%
  individual businesses (个体工商户: half still without a USCC, known by a 15-digit registration
  number and referred to elsewhere as `REG:<number>`), 3% public institutions and 3% social
  organisations. Firms registered before the USCC reform (October 2015) carry their old numeric
  organisation code inside the USCC, later ones an `MA...` code. Names follow the registries'
  pattern: city + trade name (字号) + industry + legal form.
- `legacy_identifiers.csv`: registration, organisation, tax and central-bank codes of some
  converted firms; other files sometimes refer to those firms by such a code.
- `natural_persons.csv`: about 1.6 per legal person, resident ID numbers from the five cities
  and their neighbours (birth 1950-2002, sex digit as the `sex` column says); about 1% hold
  Hong Kong/Macao, Taiwan, foreign-permanent-residence or passport documents instead.
- `roles.csv`: about 3.4 per legal person. Each has exactly one current legal representative
  (the principal, 负责人, of individual businesses, branches and partnerships); some a former
  one. Boards, supervisors, managers, CFOs, secretaries, actual controllers, registered
  professionals of construction firms, practitioners of public institutions, and the persons
  responsible for some penalties. Officers are drawn with Pareto weights, so degrees are
  heavy-tailed: most people hold one or two posts, a few sit on dozens of boards (hundreds at
  N = 10^5, a few thousand at N = 10^6).
- `shareholdings.csv`: about 1.6 per legal person, people and companies; a company only holds
  companies registered after it, so ownership chains form (A holds B holds C) and never cycles.
  Current stakes of one company sum to at most 1.
- `firm_relations.csv`: about 0.3 per legal person: supply, investment, branches,
  association membership, guarantees, and mutual-guarantee circles (A -> B -> C -> A).
- `records.csv`: about 0.3 per legal person, every kind of DOMAIN.md (blacklists, penalties,
  abnormal operation, serious violations, red lists, honours, grades of five schemes) on legal
  and natural persons, with their authorities, legal bases and lifecycles: expired, repaired
  (only where the city has repair), revoked, under objection (only where it has objections).
- `court_debtors.csv`: about 0.05 per legal person, the courts' dishonest-judgment-debtor list,
  GBK-encoded as courts publish it, with case numbers like `（2023）闽0203执1234号` and the
  judgment each enforces (`enforcement_basis`).
- `status_changes.csv`: later revocations, repairs, expiries and objections of ~5% of records.

A fixed core makes the small registries useful too: legal persons 0, 1 and 2 are active
enterprises; person 0 is the current legal representative of 0 and 1 (an officer with another
firm, for the demo's first query); 0 holds 1 which holds 2 (an ownership chain); and 0, 1, 2
guarantee each other in a circle.

Dirty rows: after every 100 to 300 clean rows of a file (about 0.5%), and at least once per
file, a deliberately broken row: bad check characters, impossible dates, unknown codes, missing
required cells, references to parties nobody registered. Each breaks exactly one rule, and
nothing ever refers to a dirty row, so a load rejects exactly the dirty rows and nothing else.
Messy but valid cells (full-width or lower-case or spaced identifiers, organisation-code and
registration-number references, upper-case codes, amounts with thousands separators) must
load, and are not counted as dirty. `manifest.json` counts rows and dirty rows per file.

Everything comes from one `random.Random(seed)` and one numpy `Generator(seed)`: the same
arguments give byte-identical files. Rows are written as they are made; memory holds only the
compact per-party arrays later rows refer to (one string per party, a few bytes of kind, city,
capital and date): N = 1,000,000 (8.5 million rows, 730 MB of files) runs in about 70 s and
310 MB of memory.
"""

from __future__ import annotations

import csv
import json
import random
from array import array
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from math import gcd
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from credgraph.graph.identifiers import (
    USCC_ALPHABET,
    format_org_code,
    make_resident_id,
    make_uscc,
    org_code_check_char,
    registration_number_check_digit,
    resident_id_check_char,
)
from credgraph.graph.vocabulary import CITY_NAMES, City

# --- the registry's world -----------------------------------------------------------------------

AS_OF = date(2025, 12, 31)  # the registry's reference date: nothing in it happens later
USCC_REFORM = date(2015, 10, 1)  # firms registered before it were converted from older codes
FIRST_REGISTRATION = date(1988, 1, 1)
FIRST_RECORD = date(2014, 1, 1)
DIRTY_GAP = (100, 300)  # clean rows between two dirty rows of a file: about 0.5% dirty


@dataclass(frozen=True)
class CityProfile:
    city: City
    province: str  # the province's one-character abbreviation, as in court case numbers
    abbreviation: str  # the city's, as in decision numbers
    system: str  # the city's public-credit platform, the `source_system` of its records
    weight: int  # share of the registry's legal persons
    repair: bool  # credit repair exists (DOMAIN.md)
    objection: bool  # objection handling exists
    districts: tuple[tuple[str, str], ...]  # (region code, name)

    @property
    def name(self) -> str:
        return CITY_NAMES[self.city]


CITIES: tuple[CityProfile, ...] = (
    CityProfile(
        City.XIAMEN,
        "闽",
        "厦",
        "xm-credit",
        25,
        repair=True,
        objection=True,
        districts=(
            ("350203", "思明区"),
            ("350205", "海沧区"),
            ("350206", "湖里区"),
            ("350211", "集美区"),
            ("350212", "同安区"),
            ("350213", "翔安区"),
        ),
    ),
    CityProfile(
        City.FUZHOU,
        "闽",
        "榕",
        "fz-credit",
        25,
        repair=True,
        objection=True,
        districts=(
            ("350102", "鼓楼区"),
            ("350103", "台江区"),
            ("350104", "仓山区"),
            ("350105", "马尾区"),
            ("350111", "晋安区"),
            ("350121", "闽侯县"),
            ("350181", "福清市"),
        ),
    ),
    CityProfile(
        City.QUANZHOU,
        "闽",
        "泉",
        "qz-credit",
        20,
        repair=True,
        objection=True,
        districts=(
            ("350502", "鲤城区"),
            ("350503", "丰泽区"),
            ("350504", "洛江区"),
            ("350521", "惠安县"),
            ("350581", "石狮市"),
            ("350582", "晋江市"),
            ("350583", "南安市"),
        ),
    ),
    CityProfile(
        City.FOSHAN,
        "粤",
        "佛",
        "fs-credit",
        20,
        repair=False,
        objection=True,
        districts=(
            ("440604", "禅城区"),
            ("440605", "南海区"),
            ("440606", "顺德区"),
            ("440607", "三水区"),
            ("440608", "高明区"),
        ),
    ),
    CityProfile(
        City.CHAOZHOU,
        "粤",
        "潮",
        "cz-credit",
        10,
        repair=False,
        objection=False,
        districts=(("445102", "湘桥区"), ("445103", "潮安区"), ("445122", "饶平县")),
    ),
)
# where people come from besides the five cities: their neighbours and the migrant provinces
OTHER_PERSON_REGIONS = (
    "350602",  # 漳州 芗城区
    "350302",  # 莆田 城厢区
    "445202",  # 揭阳 榕城区
    "440511",  # 汕头 金平区
    "360102",  # 南昌 东湖区
    "430102",  # 长沙 芙蓉区
    "510104",  # 成都 锦江区
    "420102",  # 武汉 江岸区
)
PERSON_REGIONS = tuple(code for c in CITIES for code, _ in c.districts) + OTHER_PERSON_REGIONS
# a region no valid party comes from: references to people from here name nobody
PHANTOM_REGION = "350723"

# --- names ------------------------------------------------------------------------------------

TRADE_CHARS = (
    "鹭华鑫源泰宏盛达恒通兴隆瑞丰嘉元信和安顺德利祥昌富荣康海天宇星辰金银明光正旺永新佳美"
    "博远创联合中发展腾飞汇聚东方南北闽粤侨乡龙凤凰山水云峰锦绣宝晶鼎翔晟弘毅诚铭润泽"
)
# (name word, industry description); index 2 is construction (registered professionals)
INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("科技", "软件和信息技术服务业"),
    ("贸易", "批发业"),
    ("建设工程", "房屋建筑业"),
    ("食品", "食品制造业"),
    ("物流", "道路运输业"),
    ("医药", "医药制造业"),
    ("电子", "计算机、通信和其他电子设备制造业"),
    ("纺织", "纺织服装、服饰业"),
    ("陶瓷", "非金属矿物制品业"),
    ("茶业", "农副食品加工业"),
    ("餐饮管理", "餐饮业"),
    ("旅游发展", "商务服务业"),
    ("环保科技", "生态保护和环境治理业"),
    ("房地产开发", "房地产业"),
    ("劳务派遣", "人力资源服务"),
    ("鞋业", "皮革、毛皮、羽毛及其制品和制鞋业"),
    ("机械", "通用设备制造业"),
    ("家具", "家具制造业"),
)
CONSTRUCTION = 2
COMPANY_FORMS = (("有限公司", 70), ("有限责任公司", 12), ("集团有限公司", 4))
SHOP_TYPES = ("小吃店", "便利店", "五金店", "服装店", "茶叶店", "理发店", "水果店", "海鲜排档")
INSTITUTIONS = (
    "人民医院",
    "中医院",
    "妇幼保健院",
    "第一中学",
    "实验小学",
    "疾病预防控制中心",
    "职业技术学校",
    "档案馆",
)
ROADS = ("路", "街", "大道", "里")
SURNAMES_COMMON = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢"
SURNAMES = (
    SURNAMES_COMMON + "宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆"
    "范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾洪庄翁柯"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
GIVEN_MALE = "伟强磊军洋勇杰涛明超刚志建国文辉鹏宇鑫斌浩凯峰晨阳俊毅哲"
GIVEN_FEMALE = "芳娜敏静丽艳娟秀英华桂兰红玲燕婷雪琳慧佳颖萍倩霞"
LATIN_GIVEN = ("JOHN", "DAVID", "MICHAEL", "SARAH", "EMMA", "HIROSHI", "YUKI", "MINJUN")
LATIN_FAMILY = ("SMITH", "BROWN", "TAN", "LEE", "TANAKA", "SATO", "KIM", "PARK")

# --- relations and records --------------------------------------------------------------------

# legal person kinds as the generator knows them; the `kind` column is the first of each pair
LLC, JOINT_STOCK, PARTNERSHIP, BRANCH, INDIVIDUAL, INSTITUTION, SOCIAL = range(7)
KIND_CODES = (
    "enterprise",
    "enterprise",
    "enterprise",
    "enterprise",
    "individual_business",
    "public_institution",
    "social_organisation",
)
KIND_WEIGHTS = (66, 5, 3, 2, 18, 3, 3)  # individual businesses: half without a USCC
COMPANIES = (LLC, JOINT_STOCK, PARTNERSHIP)  # the kinds that have shareholders
LED_BY_PRINCIPAL = (PARTNERSHIP, BRANCH, INDIVIDUAL)  # 负责人 / 执行事务合伙人 / 经营者

# optional officers of a company: (role, probability); joint-stock companies have full boards
OFFICERS = (
    ("chair", 0.3),
    ("director", 0.7),
    ("director", 0.3),
    ("supervisor", 0.6),
    ("manager", 0.5),
    ("cfo", 0.15),
    ("actual_controller", 0.05),
)
BOARD = (
    ("chair", 1.0),
    ("director", 1.0),
    ("director", 1.0),
    ("director", 0.8),
    ("director", 0.5),
    ("supervisor", 1.0),
    ("supervisor", 0.7),
    ("manager", 1.0),
    ("cfo", 0.8),
    ("secretary", 0.9),
)

SECTOR_AUTHORITIES: dict[str, tuple[int, str, str]] = {
    # sector: (department number, name with {city}, abbreviation in decision numbers)
    "market_regulation": (1, "{city}市市场监督管理局", "市监"),
    "food_drug": (1, "{city}市市场监督管理局", "市监"),
    "intellectual_property": (1, "{city}市市场监督管理局", "市监"),
    "tax": (2, "国家税务总局{city}市税务局", "税"),
    "environment": (3, "{city}市生态环境局", "环"),
    "work_safety": (4, "{city}市应急管理局", "应急"),
    "labour": (5, "{city}市人力资源和社会保障局", "人社"),
    "social_insurance": (6, "{city}市医疗保障局", "医保"),
    "construction": (7, "{city}市住房和城乡建设局", "建"),
    "medical": (8, "{city}市卫生健康委员会", "卫健"),
    "tourism": (9, "{city}市文化和旅游局", "文旅"),
    "internet": (10, "{city}市委网络安全和信息化委员会办公室", "网信"),
    "procurement": (11, "{city}市财政局", "财"),
    "general": (12, "{city}市发展和改革委员会", "发改"),
}
LEGAL_BASES = {
    "market_regulation": "《中华人民共和国市场主体登记管理条例》第四十四条",
    "food_drug": "《中华人民共和国食品安全法》第一百二十四条",
    "intellectual_property": "《中华人民共和国商标法》第六十条",
    "tax": "《中华人民共和国税收征收管理法》第六十三条",
    "environment": "《中华人民共和国环境保护法》第五十九条",
    "work_safety": "《中华人民共和国安全生产法》第九十九条",
    "labour": "《劳动保障监察条例》第二十六条",
    "social_insurance": "《医疗保障基金使用监督管理条例》第四十条",
    "construction": "《建设工程质量管理条例》第六十四条",
    "medical": "《中华人民共和国基本医疗卫生与健康促进法》第九十九条",
    "tourism": "《中华人民共和国旅游法》第九十五条",
    "internet": "《中华人民共和国网络安全法》第六十四条",
    "procurement": "《中华人民共和国政府采购法》第七十七条",
    "general": "《社会信用体系建设规划纲要（2014—2020年）》",
}
PENALTY_SECTORS = (
    "market_regulation",
    "market_regulation",
    "tax",
    "environment",
    "work_safety",
    "food_drug",
    "labour",
    "construction",
    "medical",
    "tourism",
    "intellectual_property",
    "procurement",
)
FIRM_BLACKLISTS = {
    "tourism": "旅游服务黑名单",
    "work_safety": "安全生产黑名单",
    "medical": "医疗机构不良执业行为黑名单",
    "intellectual_property": "知识产权侵权失信黑名单",
    "food_drug": "食品药品安全黑名单",
    "tax": "重大税收违法失信案件名单",
    "construction": "建筑市场失信行为黑名单",
    "labour": "拖欠农民工工资失信联合惩戒对象名单",
    "internet": "互联网失信黑名单",
    "environment": "环境违法企业黑名单",
    "procurement": "政府采购严重违法失信行为记录名单",
}
PERSON_BLACKLISTS = {
    "medical": "非法行医黑名单",
    "social_insurance": "社会保险欺诈失信黑名单",
    "internet": "互联网失信黑名单",
    "tourism": "导游不文明旅游行为记录",
}
CHAOZHOU_BAD_CREDIT_LIST = "潮州市不良信用名单"
FIRM_RECORD_KINDS = (
    ("admin_penalty", 38),
    ("abnormal_operation", 14),
    ("grade", 18),
    ("blacklist", 7),
    ("serious_violation", 4),
    ("red_list", 10),
    ("honour", 9),
)
PERSON_RECORD_KINDS = (("admin_penalty", 45), ("blacklist", 35), ("red_list", 8), ("honour", 12))
# (scheme, values, sector, list name)
GRADE_SCHEMES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("tax", ("A", "B", "M", "C", "D"), "tax", "纳税信用等级评价"),
    ("labour", ("A", "B", "C"), "labour", "劳动保障守法诚信等级评价"),
    ("enterprise_composite", ("A", "B", "C", "D"), "general", "企业综合信用等级评价"),
    ("environment", ("green", "blue", "yellow", "red"), "environment", "企业环境信用评价"),
    ("work_safety", ("A", "B", "C"), "work_safety", "安全生产诚信等级评价"),
)
DISCLOSURES = ("public", "government_shared", "restricted", "subject_only")
FIRM_DISCLOSURE_WEIGHTS = (80, 10, 5, 5)
PERSON_DISCLOSURE_WEIGHTS = (45, 30, 15, 10)
DISHONEST_BEHAVIOURS = (
    "有履行能力而拒不履行生效法律文书确定义务",
    "违反财产报告制度",
    "违反限制消费令",
    "以伪造证据、暴力、威胁等方法妨碍、抗拒执行",
    "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
    "无正当理由拒不履行执行和解协议",
)
DEBTOR_SYSTEM = "zxgk"  # 中国执行信息公开网, where the courts publish the list
# the rule a court lists a dishonest judgment debtor under
DEBTOR_LEGAL_BASIS = "《最高人民法院关于公布失信被执行人名单信息的若干规定》第一条"

# --- files --------------------------------------------------------------------------------------

HEADERS: dict[str, tuple[str, ...]] = {
    "legal_persons.csv": (
        "uscc",
        "registration_number",
        "org_code",
        "name",
        "kind",
        "region_code",
        "registered_on",
        "status",
        "registered_capital",
        "address",
        "industry",
    ),
    "legacy_identifiers.csv": ("uscc", "legacy_type", "legacy_code", "valid_from", "valid_to"),
    "natural_persons.csv": ("id_type", "id_number", "country", "name", "sex"),
    "roles.csv": (
        "person_id_number",
        "company_id",
        "role",
        "matter",
        "valid_from",
        "valid_to",
        "source_record",
    ),
    "shareholdings.csv": (
        "holder_id",
        "company_id",
        "stake",
        "subscribed_capital",
        "valid_from",
        "valid_to",
        "source_record",
    ),
    "firm_relations.csv": (
        "from_id",
        "to_id",
        "relation",
        "amount",
        "valid_from",
        "valid_to",
        "source_record",
    ),
    "records.csv": (
        "record_id",
        "subject_id",
        "kind",
        "sector",
        "list_name",
        "scheme",
        "grade",
        "authority_code",
        "authority_name",
        "legal_basis",
        "decision_number",
        "decision_date",
        "published_on",
        "valid_from",
        "valid_to",
        "disclosure_until",
        "status",
        "disclosure",
        "city",
        "court",
        "case_number",
        "enforcement_basis",
        "obligation",
        "performance",
        "dishonest_behaviour",
        "description",
        "source_system",
    ),
    "status_changes.csv": (
        "change_id",
        "record_id",
        "source_system",
        "change",
        "effective_on",
        "decision_number",
        "note",
    ),
}
HEADERS["court_debtors.csv"] = HEADERS["records.csv"]
ENCODINGS = {name: "gbk" if name == "court_debtors.csv" else "utf-8" for name in HEADERS}

Row = dict[str, object]


# --- the manifest -------------------------------------------------------------------------------


@dataclass
class FileCount:
    encoding: str
    rows: int = 0  # data rows, the header excluded
    dirty_rows: int = 0  # of which deliberately broken: a load rejects exactly these


@dataclass
class Manifest:
    seed: int
    enterprises: int
    files: dict[str, FileCount] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "enterprises": self.enterprises,
            "as_of": AS_OF.isoformat(),
            "files": {
                name: {"encoding": c.encoding, "rows": c.rows, "dirty_rows": c.dirty_rows}
                for name, c in self.files.items()
            },
            "totals": {
                "rows": sum(c.rows for c in self.files.values()),
                "dirty_rows": sum(c.dirty_rows for c in self.files.values()),
            },
        }


class _Files:
    """The open files of one registry; counts every row it writes."""

    def __init__(self, folder: Path, stack: ExitStack, manifest: Manifest) -> None:
        self._writers: dict[str, Any] = {}
        self._counts = manifest.files
        for name, header in HEADERS.items():
            handle: TextIO = stack.enter_context(
                (folder / name).open("w", encoding=ENCODINGS[name], newline="", buffering=1 << 20)
            )
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            self._writers[name] = writer
            self._counts[name] = FileCount(ENCODINGS[name])

    def write(self, name: str, row: Mapping[str, object], *, dirty: bool) -> None:
        self._writers[name].writerow([row.get(column) for column in HEADERS[name]])
        count = self._counts[name]
        count.rows += 1
        count.dirty_rows += dirty

    def dirty_rows(self, name: str) -> int:
        return self._counts[name].dirty_rows


# --- small pure helpers ----------------------------------------------------------------------


class _Table:
    """Values with weights, drawn by cumulative weight (cheaper than `choices` with weights)."""

    def __init__(self, pairs: Sequence[tuple[str, int]]) -> None:
        self.values = tuple(value for value, _ in pairs)
        self.cumulative = tuple(accumulate(weight for _, weight in pairs))

    def draw(self, rnd: random.Random) -> str:
        return rnd.choices(self.values, cum_weights=self.cumulative)[0]


FIRM_STATUSES = _Table((("active", 89), ("revoked", 4), ("cancelled", 6), ("moved_out", 1)))
COMPANY_FORM_TABLE = _Table(COMPANY_FORMS)
HOLDER_COUNTS = _Table((("1", 30), ("2", 35), ("3", 22), ("4", 9), ("5", 4)))
FIRM_RECORD_TABLE = _Table(FIRM_RECORD_KINDS)
PERSON_RECORD_TABLE = _Table(PERSON_RECORD_KINDS)
PERFORMANCE = _Table((("全部未履行", 80), ("部分未履行", 20)))
DEBTOR_STATUSES = _Table((("active", 88), ("revoked", 7), ("under_objection", 5)))
POSITIVE_KINDS = ("red_list", "honour", "grade")


def _base31(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rest = divmod(number, 31)
        digits.append(USCC_ALPHABET[rest])
    return "".join(reversed(digits))


def _org_body(index: int, converted: bool) -> str:
    """A unique 8-character organisation-code body for legal person `index`.

    Converted firms keep a numeric pre-2015 code; newer ones get `MA` and six base-31
    characters. Both are bijections of the index, so no two legal persons share a code.
    """
    if converted:
        return f"{(index * 7_368_787 + 12_345_678) % 100_000_000:08d}"
    return "MA" + _base31((index * 7_919 + 1_000_003) % 31**6, 6)


def _registration_number(region: str, index: int) -> str:
    """The 15-digit business registration number (GS 15) of legal person `index`."""
    first14 = f"{region}{index:08d}"
    return first14 + registration_number_check_digit(first14)


def _amount(value: float) -> int:
    """Yuan, rounded to the thousand as registries state them."""
    return max(int(round(value, -3)), 1000)


def _full_width(code: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in code)


def _coprime_stride(rnd: random.Random, modulus: int) -> int:
    stride = rnd.randrange(modulus // 3, modulus // 2) | 1
    while gcd(stride, modulus) != 1:
        stride += 2
    return stride


def _court_name(city: CityProfile, district: str) -> str:
    if district.endswith("市"):  # a county-level city's court carries its own name
        return f"{district}人民法院"
    return f"{city.name}市{district}人民法院"


def _authority_code(region4: str, department: int) -> str:
    """The USCC of a city's government department (registering authority 1, type 1: 机关)."""
    return make_uscc("1", "1", region4 + "00", f"00{department:02d}{region4}")


def _court_code(region: str) -> str:
    """The USCC of a basic people's court."""
    return make_uscc("1", "1", region, f"{region}99")


class _HeavyTailedPicker:
    """Draws indices 0..size-1 with Pareto weights: a few are drawn very often.

    Weights are Pareto(alpha) variates from 1, capped at `cap` (so no single nominee takes
    tens of thousands of posts in a large registry); draws come in numpy blocks (searchsorted
    over the cumulative weights), so a draw costs a list pop. Memory: 8 bytes per index.
    """

    def __init__(self, rng: np.random.Generator, size: int, alpha: float, cap: float) -> None:
        self._rng = rng
        self._cumulative = np.cumsum(np.minimum(rng.pareto(alpha, size) + 1.0, cap))
        self._last = size - 1
        self._block: list[int] = []

    def pick(self) -> int:
        if not self._block:
            draws = self._rng.random(1 << 16) * self._cumulative[-1]
            found = np.searchsorted(self._cumulative, draws, side="right")
            self._block = np.minimum(found, self._last)[::-1].tolist()
        return self._block.pop()


# --- the generator --------------------------------------------------------------------------------


class _Registry:
    """The generation state: what later rows refer to, kept compact (one entry per party)."""

    def __init__(self, enterprises: int, seed: int, files: _Files) -> None:
        self.n = enterprises
        self.rnd = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.files = files
        # per legal person: its reference, kind, city, industry, capital (yuan), registration day
        self.firm_refs: list[str] = []
        self.firm_kind = bytearray()
        self.firm_city = bytearray()
        self.firm_industry = bytearray()
        self.firm_capital: array[int] = array("q")
        self.firm_since: array[int] = array("i")  # date ordinals
        self.legacy_reg: set[int] = set()  # converted firms whose registration number is an alias
        self.heads: list[tuple[int, str]] = []  # recent head offices a branch may belong to
        self.branch_of: dict[int, int] = {}
        self.associations: array[int] = array("i")
        self.parents: list[int] = []  # recent companies that may hold or invest in later ones
        self.people: list[str] = []  # party references of natural persons
        self.officers: _HeavyTailedPicker | None = None
        self.countdown = {name: self.rnd.randint(*DIRTY_GAP) for name in HEADERS}
        self.phantoms = 0  # serial of the identifiers made for dirty rows
        self._kinds = tuple(range(len(KIND_CODES)))
        self._kind_weights = tuple(accumulate(KIND_WEIGHTS))
        self._cities = tuple(range(len(CITIES)))
        self._city_weights = tuple(accumulate(c.weight for c in CITIES))

    # --- writing --------------------------------------------------------------------------

    def emit(self, name: str, row: Row) -> None:
        """Write a clean row; after every 100 to 300 of them, a dirty one."""
        self.files.write(name, row, dirty=False)
        self.countdown[name] -= 1
        if self.countdown[name] <= 0:
            self.countdown[name] = self.rnd.randint(*DIRTY_GAP)
            self.emit_dirty(name)

    def emit_dirty(self, name: str) -> None:
        self.files.write(name, DIRTY_MAKERS[name](self), dirty=True)

    def top_up_dirty(self) -> None:
        """At least one dirty row per file, however small the registry."""
        for name in HEADERS:
            if self.files.dirty_rows(name) == 0:
                self.emit_dirty(name)

    # --- random helpers ---------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rnd.random() < p

    def day_between(self, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=self.rnd.randrange((last - first).days + 1))

    def recent_day(self, first: date, last: date) -> date:
        """A day in the range, more often late than early (registrations grow year by year)."""
        span = (last - first).days
        return first + timedelta(days=int(self.rnd.triangular(0, span, span)))

    def untidy(self, code: str) -> str:
        """An identifier as real extracts write it: now and then full-width, lower case, spaced."""
        roll = self.rnd.random()
        if roll >= 0.03:
            return code
        if roll < 0.01:
            return _full_width(code)
        if roll < 0.02:
            return code.lower()
        return f"{code[:6]} {code[6:]}"

    def untidy_code(self, value: str) -> str:
        """A vocabulary code, now and then upper case (codes are case-insensitive)."""
        return value.upper() if self.rnd.random() < 0.01 else value

    def trade_name(self) -> str:
        size = 3 if self.rnd.random() < 0.2 else 2
        return "".join(self.rnd.choice(TRADE_CHARS) for _ in range(size))

    def surname(self) -> str:
        roll = self.rnd.random()
        if roll < 0.01:
            return self.rnd.choice(COMPOUND_SURNAMES)
        return self.rnd.choice(SURNAMES_COMMON if roll < 0.6 else SURNAMES)

    def person_name(self, sex: str) -> str:
        pool = GIVEN_MALE if sex == "M" else GIVEN_FEMALE
        size = 2 if self.rnd.random() < 0.7 else 1
        return self.surname() + "".join(self.rnd.choice(pool) for _ in range(size))

    def latin_name(self) -> str:
        return f"{self.rnd.choice(LATIN_GIVEN)} {self.rnd.choice(LATIN_FAMILY)}"

    def city(self) -> int:
        return self.rnd.choices(self._cities, cum_weights=self._city_weights)[0]

    # --- references ----------------------------------------------------------------------

    def firm_ref(self, index: int) -> str:
        """How another file names legal person `index`: its USCC or `REG:` number, as written.

        Mostly the code itself (now and then untidy); sometimes the organisation code inside
        the USCC (`74419092-7`), or the old registration number of a converted firm.
        """
        ref = self.firm_refs[index]
        if ref.startswith("REG:"):
            return ref
        roll = self.rnd.random()
        if roll < 0.01:
            return format_org_code(ref[8:17])
        if roll < 0.03 and index in self.legacy_reg:
            return "REG:" + _registration_number(ref[2:8], index)
        return self.untidy(ref)

    def person_ref(self, index: int) -> str:
        ref = self.people[index]
        return ref if ref.startswith("DOC:") else self.untidy(ref)

    def officer(self) -> int:
        """A person for a post, drawn with heavy-tailed weights."""
        assert self.officers is not None, "natural persons come before their roles"
        return self.officers.pick()

    def any_firm(self) -> str:
        """The key of a random clean legal person (dirty rows name clean parties too)."""
        return self.firm_refs[self.rnd.randrange(len(self.firm_refs))]

    def any_person(self) -> str:
        return self.people[self.rnd.randrange(len(self.people))]

    def phantom_uscc(self) -> str:
        """A valid USCC nobody registered (`MC` bodies are outside every registered range)."""
        self.phantoms += 1
        return make_uscc("9", "1", "350203", "MC" + _base31(self.phantoms, 6))

    def phantom_org_code(self) -> str:
        """A valid organisation code inside no registered USCC (`MD` bodies)."""
        self.phantoms += 1
        body = "MD" + _base31(self.phantoms, 6)
        return format_org_code(body + org_code_check_char(body))

    def phantom_resident(self) -> str:
        """A valid resident ID of nobody: no registered person comes from PHANTOM_REGION."""
        self.phantoms += 1
        birth = date(1960, 1, 1) + timedelta(days=self.phantoms % 15_000)
        return make_resident_id(PHANTOM_REGION, birth, self.phantoms % 100, "M")

    def earlier_company(self, index: int) -> int | None:
        """A random company registered before `index`, if a few tries find one."""
        for _ in range(4):
            other = self.rnd.randrange(index)
            if self.firm_kind[other] in COMPANIES:
                return other
        return None

    # --- legal persons ------------------------------------------------------------------------

    def legal_persons(self) -> None:
        for i in range(self.n):
            self.emit("legal_persons.csv", self.legal_person(i))

    def legal_person(self, i: int) -> Row:
        kind = LLC if i < 3 else self.kind()
        city_i = self.city()
        city = CITIES[city_i]
        region, district = self.rnd.choice(city.districts)
        registered = self.recent_day(FIRST_REGISTRATION, AS_OF - timedelta(days=30))
        industry = self.rnd.randrange(len(INDUSTRIES))
        converted = registered < USCC_REFORM
        uscc = make_uscc(*_uscc_type(kind), region, _org_body(i, converted))
        capital = self.capital(kind)
        name = self.firm_name(i, kind, city, district, industry)
        row: Row = {
            "uscc": self.untidy(uscc),
            "name": name,
            "kind": self.untidy_code(KIND_CODES[kind]),
            "region_code": region,
            "registered_on": registered,
            "status": "active" if i < 3 else FIRM_STATUSES.draw(self.rnd),
            "registered_capital": self.written_amount(capital) if capital else None,
            "address": self.address(city, district),
            "industry": INDUSTRIES[industry][1],
        }
        ref = uscc
        if kind == INDIVIDUAL and self.chance(0.5):  # not converted to a USCC yet
            number = _registration_number(region, i)
            row["uscc"], row["registration_number"], ref = None, number, f"REG:{number}"
        elif self.chance(0.15):
            row["org_code"] = self.written_org_code(uscc[8:17])
        self.remember_firm(i, ref, kind, city_i, industry, capital, registered)
        if kind in (LLC, JOINT_STOCK) and capital >= 2_000_000:
            self.remember_head(i, name)
        if converted and kind in COMPANIES and self.chance(0.12):
            self.legacy_identifiers(i, uscc, registered)
        return row

    def kind(self) -> int:
        kind = self.rnd.choices(self._kinds, cum_weights=self._kind_weights)[0]
        return LLC if kind == BRANCH and not self.heads else kind

    def remember_firm(
        self, i: int, ref: str, kind: int, city: int, industry: int, capital: int, since: date
    ) -> None:
        self.firm_refs.append(ref)
        self.firm_kind.append(kind)
        self.firm_city.append(city)
        self.firm_industry.append(industry)
        self.firm_capital.append(capital)
        self.firm_since.append(since.toordinal())
        if kind == SOCIAL:
            self.associations.append(i)

    def remember_head(self, i: int, name: str) -> None:
        if len(self.heads) < 256:
            self.heads.append((i, name))
        else:
            self.heads[self.rnd.randrange(256)] = (i, name)

    def firm_name(self, i: int, kind: int, city: CityProfile, district: str, industry: int) -> str:
        word = INDUSTRIES[industry][0]
        trade = self.trade_name()
        if kind == INDIVIDUAL:
            return f"{city.name}市{district}{trade}{self.rnd.choice(SHOP_TYPES)}"
        if kind == INSTITUTION:
            return f"{city.name}市{district}{self.rnd.choice(INSTITUTIONS)}"
        if kind == SOCIAL:
            return f"{city.name}市{word}{self.rnd.choice(('行业协会', '商会', '促进会'))}"
        if kind == PARTNERSHIP:
            return f"{city.name}{trade}股权投资合伙企业（有限合伙）"
        if kind == BRANCH:
            head, head_name = self.rnd.choice(self.heads)
            self.branch_of[i] = head
            return f"{head_name}{district[:-1]}分公司"
        form = "股份有限公司" if kind == JOINT_STOCK else COMPANY_FORM_TABLE.draw(self.rnd)
        if self.chance(0.2):
            return f"{trade}{word}（{city.name}）{form}"
        return f"{city.name}{trade}{word}{form}"

    def capital(self, kind: int) -> int:
        if kind in COMPANIES:
            median = 30_000_000 if kind == JOINT_STOCK else 1_000_000
            return _amount(median * self.rnd.lognormvariate(0, 1.3))
        if kind == INDIVIDUAL and self.chance(0.5):
            return self.rnd.randint(1, 50) * 10_000
        if kind in (INSTITUTION, SOCIAL):
            return self.rnd.randint(3, 500) * 10_000
        return 0

    def written_amount(self, amount: int) -> str:
        return f"{amount:,}" if self.chance(0.02) else str(amount)

    def written_org_code(self, code: str) -> str:
        return format_org_code(code) if self.chance(0.7) else self.untidy(code)

    def address(self, city: CityProfile, district: str) -> str:
        road = self.trade_name()[:2] + self.rnd.choice(ROADS)
        return f"{city.name}市{district}{road}{self.rnd.randint(1, 999)}号"

    def legacy_identifiers(self, i: int, uscc: str, registered: date) -> None:
        """The codes a converted company was known by before its USCC."""
        until = self.day_between(USCC_REFORM, date(2017, 12, 31))
        codes = [("registration_number", _registration_number(uscc[2:8], i))]
        self.legacy_reg.add(i)
        if self.chance(0.5):
            codes.append(("org_code", format_org_code(uscc[8:17])))
        if self.chance(0.3):
            codes.append(("tax_number", uscc[2:8] + uscc[8:17]))
        if self.chance(0.1):
            codes.append(("institution_credit_code", f"G1{uscc[2:8]}{i:010d}"))
        for legacy_type, code in codes:
            row: Row = {
                "uscc": uscc,
                "legacy_type": legacy_type,
                "legacy_code": code,
                "valid_from": registered,
                "valid_to": until,
            }
            self.emit("legacy_identifiers.csv", row)

    # --- natural persons ---------------------------------------------------------------------

    def natural_persons(self) -> None:
        """About 1.6 per legal person; person 0 always holds a resident ID (the demo's officer).

        Resident IDs are a permutation of (region, birth day, sequence) slots, so they never
        repeat; the sex digit follows the `sex` column.
        """
        count = max(round(self.n * 1.6), 12)
        days = (date(2002, 12, 31) - date(1950, 1, 1)).days + 1
        regions = len(PERSON_REGIONS)
        slots = regions * days * 100
        stride, offset = _coprime_stride(self.rnd, slots), self.rnd.randrange(slots)
        for j in range(count):
            if j and self.chance(0.01):
                self.emit("natural_persons.csv", self.document_holder(j))
                continue
            slot = (j * stride + offset) % slots
            region = PERSON_REGIONS[slot % regions]
            birth = date(1950, 1, 1) + timedelta(days=slot // regions % days)
            sex = "M" if self.rnd.random() < 0.52 else "F"
            number = make_resident_id(region, birth, slot // (regions * days), sex)
            self.people.append(number)
            row: Row = {
                "id_type": "resident",
                "id_number": self.untidy(number),
                "name": self.person_name(sex),
                "sex": sex if self.chance(0.9) else None,
            }
            self.emit("natural_persons.csv", row)
        self.officers = _HeavyTailedPicker(self.rng, len(self.people), alpha=1.8, cap=2500)

    def document_holder(self, j: int) -> Row:
        """A Hong Kong, Macao or Taiwan resident, or a foreigner, by travel document."""
        serial = (j * 48_271 + 12_345_678) % 100_000_000
        id_type, country = self.rnd.choice(DOCUMENTS)
        sex = self.rnd.choice("MF")
        name = self.person_name(sex)
        if id_type == "hk_macao":
            number = f"{country[0]}{serial:08d}"
        elif id_type == "taiwan":
            number = f"{serial:08d}"
        elif id_type == "foreign_permanent":
            number, name = f"USA3502{serial:08d}", self.latin_name()
        else:
            number = f"{'EKT'[j % 3]}{serial:08d}"
            name = name if country == "SG" else self.latin_name()
        self.people.append(f"DOC:{id_type}:{country}:{number}")
        return {
            "id_type": id_type,
            "id_number": number,
            "country": country,
            "name": name,
            "sex": sex,
        }

    # --- roles, shareholdings and firm relations -------------------------------------------------

    def relations(self) -> None:
        for i in range(self.n):
            lead = self.roles(i)
            if self.firm_kind[i] in COMPANIES:
                self.shareholdings(i, lead)
            self.firm_relations(i)
        self.guarantee_circles()

    def roles(self, i: int) -> int:
        """The officers of legal person `i`; returns its current legal representative/principal."""
        kind = self.firm_kind[i]
        since = date.fromordinal(self.firm_since[i])
        lead_role = "principal" if kind in LED_BY_PRINCIPAL else "legal_representative"
        lead = 0 if i < 2 else self.officer()  # the core: person 0 leads firms 0 and 1
        start = since
        if i >= 2 and since < AS_OF and self.chance(0.12):  # replaced once; the former is dated
            start = self.day_between(since + timedelta(days=1), AS_OF)
            self.role(i, "0", self.officer(), lead_role, since, start)
        self.role(i, "1", lead, lead_role, start, None)
        seats = BOARD if kind == JOINT_STOCK else OFFICERS if kind == LLC else ()
        seated = {lead}
        for k, (role, p) in enumerate(seats, start=2):
            if not self.chance(p):
                continue
            person = lead if role == "chair" and self.chance(0.6) else self.officer()
            if person in seated and role != "chair":
                continue
            seated.add(person)
            self.role(i, str(k), person, role, self.day_between(since, AS_OF), None)
        self.specialists(i, kind, since)
        return lead

    def specialists(self, i: int, kind: int, since: date) -> None:
        """Registered professionals of construction firms, practitioners of institutions,
        secretaries-general of associations."""
        if kind in COMPANIES and self.firm_industry[i] == CONSTRUCTION:
            role, count = "registered_professional", self.rnd.randint(1, 2)
        elif kind == INSTITUTION:
            role, count = "practitioner", self.rnd.randint(1, 3)
        elif kind == SOCIAL and self.chance(0.5):
            role, count = "secretary", 1
        else:
            return
        for k in range(count):
            start = self.day_between(since, AS_OF)
            self.role(i, f"P{k}", self.officer(), role, start, None)

    def role(self, i: int, key: str, person: int, role: str, start: date, end: date | None) -> None:
        row: Row = {
            "person_id_number": self.person_ref(person),
            "company_id": self.firm_ref(i),
            "role": self.untidy_code(role),
            "valid_from": start,
            "valid_to": end,
            "source_record": f"R{i}-{key}",
        }
        self.emit("roles.csv", row)

    def shareholdings(self, i: int, lead: int) -> None:
        """One to five holders; current stakes sum to at most 1; companies hold later ones."""
        since = date.fromordinal(self.firm_since[i])
        holders, held_by_company = self.holders(i, lead)
        for k, (holder, stake) in enumerate(zip(holders, self.stakes(len(holders)), strict=True)):
            start = since
            if since < AS_OF and self.chance(0.04):  # the stake changed hands: a dated former
                start = self.day_between(since + timedelta(days=1), AS_OF)
                self.holding(i, f"{k}F", self.person_ref(self.officer()), stake, since, start)
            self.holding(i, str(k), holder, stake, start, None)
        big = self.firm_capital[i] >= 5_000_000
        if self.firm_kind[i] in (LLC, JOINT_STOCK) and (big or held_by_company):
            self.remember_parent(i)

    def holders(self, i: int, lead: int) -> tuple[list[str], bool]:
        """Holder references, and whether a company is among them."""
        if i in (1, 2):  # the core chain: 0 holds 1, 1 holds 2
            return [self.firm_ref(i - 1), self.person_ref(lead)], True
        holders: list[str] = []
        by_company = False
        for k in range(int(HOLDER_COUNTS.draw(self.rnd))):
            if self.parents and self.chance(0.15):
                holders.append(self.firm_ref(self.rnd.choice(self.parents)))
                by_company = True
            elif k == 0 and self.chance(0.5):  # the legal representative holds the largest part
                holders.append(self.person_ref(lead))
            else:
                holders.append(self.person_ref(self.officer()))
        return holders, by_company

    def stakes(self, count: int) -> list[float]:
        """Fractions to four decimals, rounded down so they never sum to more than the total."""
        total = 1.0 if self.chance(0.9) else self.rnd.uniform(0.5, 0.99)
        if count == 2 and total == 1.0 and self.chance(0.4):
            return [0.51, 0.49]
        parts = [self.rnd.uniform(0.2, 1.0) for _ in range(count)]
        scale = total * 10_000 / sum(parts)
        return [max(int(part * scale), 1) / 10_000 for part in parts]

    def holding(
        self, i: int, key: str, holder: str, stake: float, start: date, end: date | None
    ) -> None:
        row: Row = {
            "holder_id": holder,
            "company_id": self.firm_ref(i),
            "stake": stake,
            "subscribed_capital": round(stake * self.firm_capital[i], 2) or None,
            "valid_from": start,
            "valid_to": end,
            "source_record": f"S{i}-{key}",
        }
        self.emit("shareholdings.csv", row)

    def remember_parent(self, i: int) -> None:
        if len(self.parents) < 1024:
            self.parents.append(i)
        else:
            self.parents[self.rnd.randrange(1024)] = i

    def firm_relations(self, i: int) -> None:
        """Branch links, and now and then a supplier, a guarantee, an investor, an association."""
        if i in self.branch_of:
            self.firm_relation(f"F{i}-B", i, self.branch_of[i], "branch_of", None)
        if i < 3:
            return
        roll = self.rnd.random()
        if roll < 0.12:
            other = self.earlier_company(i)
            if other is not None:
                self.firm_relation(f"F{i}-S", i, other, "supplies", None)
        elif roll < 0.18:
            other = self.earlier_company(i)
            if other is not None:
                self.guarantee(f"F{i}-G", i, other)
                if self.chance(0.15):  # mutual guarantee (互保)
                    self.guarantee(f"F{i}-M", other, i)
        elif roll < 0.23 and self.parents:
            investor = self.rnd.choice(self.parents)  # i itself may be a parent by now
            if investor != i:
                amount = _amount(self.firm_capital[investor] * self.rnd.uniform(0.05, 0.3))
                self.firm_relation(f"F{i}-I", investor, i, "invests_in", amount)
        elif roll < 0.28 and self.associations:
            association = self.associations[self.rnd.randrange(len(self.associations))]
            if association != i:
                self.firm_relation(f"F{i}-A", i, association, "member_of", None)

    def firm_relation(
        self, key: str, source: int, target: int, relation: str, amount: int | None
    ) -> None:
        start = date.fromordinal(max(self.firm_since[source], self.firm_since[target]))
        row: Row = {
            "from_id": self.firm_ref(source),
            "to_id": self.firm_ref(target),
            "relation": self.untidy_code(relation),
            "amount": amount,
            "valid_from": self.day_between(start, AS_OF),
            "source_record": key,
        }
        self.emit("firm_relations.csv", row)

    def guarantee(
        self, key: str, guarantor: int, guaranteed: int, term: tuple[date, date] | None = None
    ) -> None:
        """A loan guarantee for one to three years; many have run out by the reference date."""
        valid_from, valid_to = term or self.guarantee_term([guarantor, guaranteed])
        row: Row = {
            "from_id": self.firm_ref(guarantor),
            "to_id": self.firm_ref(guaranteed),
            "relation": "guarantees",
            "amount": _amount(max(self.firm_capital[guaranteed], 500_000) * self.rnd.random()),
            "valid_from": valid_from,
            "valid_to": valid_to,
            "source_record": key,
        }
        self.emit("firm_relations.csv", row)

    def guarantee_term(self, firms: list[int], *, current: bool = False) -> tuple[date, date]:
        """One to three years from a day after every firm existed; `current`: in force at AS_OF
        and for a year after it."""
        start = date.fromordinal(max(self.firm_since[f] for f in firms))
        earliest = max(start, date(2012, 1, 1))
        if current:
            earliest = max(earliest, AS_OF - timedelta(days=300))
        valid_from = self.day_between(earliest, AS_OF)
        years = self.rnd.randint(2, 3) if current else self.rnd.randint(1, 3)
        return valid_from, valid_from + timedelta(days=365 * years)

    def guarantee_circles(self) -> None:
        """Mutual-guarantee circles (联保圈): each member guarantees the next, the last the first.

        The members of a circle sign together, so its guarantees share one term. The core
        circle 0 -> 1 -> 2 -> 0 is in force on the reference date; one circle of three to six
        companies per 300 legal persons follows.
        """
        if self.n < 3:
            return
        companies = array("i", (i for i in range(self.n) if self.firm_kind[i] in COMPANIES))
        circles = [[0, 1, 2]]
        for _ in range(self.n // 300):
            size = min(self.rnd.randint(3, 6), len(companies))
            circles.append([companies[k] for k in self.rnd.sample(range(len(companies)), size)])
        for c, members in enumerate(circles):
            term = self.guarantee_term(members, current=c == 0)
            for k, member in enumerate(members):
                self.guarantee(f"C{c}-{k}", member, members[(k + 1) % len(members)], term)

    # --- credit records ----------------------------------------------------------------------

    def credit_records(self) -> None:
        for r in range(round(self.n * 0.3)):
            self.record(r)
        for r in range(max(round(self.n * 0.05), 2)):
            self.court_debtor(r)

    def record(self, r: int) -> None:
        """A department's record on a legal person (80%) or a natural person (20%)."""
        firm = self.rnd.randrange(self.n) if self.chance(0.8) else None
        if firm is not None:
            subject, city = self.firm_ref(firm), CITIES[self.firm_city[firm]]
            earliest = max(date.fromordinal(self.firm_since[firm]), FIRST_RECORD)
            kind = FIRM_RECORD_TABLE.draw(self.rnd)
        else:
            subject = self.person_ref(self.rnd.randrange(len(self.people)))
            city, earliest = CITIES[self.city()], FIRST_RECORD
            kind = PERSON_RECORD_TABLE.draw(self.rnd)
        decided = self.recent_day(earliest, AS_OF)
        row = self.record_body(kind, firm is not None, city, decided)
        record_id = f"{city.system[:2].upper()}{decided.year}{r:08d}"
        weights = FIRM_DISCLOSURE_WEIGHTS if firm is not None else PERSON_DISCLOSURE_WEIGHTS
        row.update(
            record_id=record_id,
            subject_id=subject,
            kind=self.untidy_code(kind),
            decision_date=decided,
            # a few days after the decision, but never after the registry's reference date
            published_on=min(decided + timedelta(days=self.rnd.randint(1, 7)), AS_OF),
            valid_from=decided,
            city=city.city.value,
            source_system=city.system,
            disclosure=self.rnd.choices(DISCLOSURES, weights)[0],
        )
        valid_to = row.get("valid_to")
        status = self.record_status(kind, city, valid_to if isinstance(valid_to, date) else None)
        row["status"] = status
        self.emit("records.csv", row)
        self.status_changes(record_id, kind, status, city, decided)
        if firm is not None and kind == "admin_penalty" and self.chance(0.15):
            self.responsible_person(firm, record_id, decided)

    def record_body(self, kind: str, on_firm: bool, city: CityProfile, decided: date) -> Row:
        """Sector, list, authority, legal basis and validity of a record of this kind."""
        if kind == "grade":
            scheme, values, sector, list_name = self.rnd.choice(GRADE_SCHEMES)
            row = self.issued(sector, city, decided, negative=False)
            row.update(scheme=scheme, grade=self.rnd.choice(values), list_name=list_name)
            row["valid_to"] = decided + timedelta(days=365)
            return row
        sector, list_name = self.sector_and_list(kind, on_firm, city)
        row = self.issued(sector, city, decided, negative=kind not in POSITIVE_KINDS)
        row["list_name"] = list_name
        row["description"] = self.description(kind, sector)
        years = 2 if kind in POSITIVE_KINDS else 3
        if kind == "admin_penalty" and sector != "work_safety" and self.chance(0.5):
            years = 1  # published for 3 months to 3 years; work safety for at least a year
        if kind != "abnormal_operation" or self.chance(0.4):  # abnormal: listed until removed
            row["valid_to"] = decided + timedelta(days=365 * years)
            row["disclosure_until"] = row["valid_to"]
        return row

    def sector_and_list(self, kind: str, on_firm: bool, city: CityProfile) -> tuple[str, str]:
        if kind == "admin_penalty":
            return self.rnd.choice(PENALTY_SECTORS), "行政处罚信息"
        if kind == "abnormal_operation":
            return "market_regulation", "经营异常名录"
        if kind == "serious_violation":
            return "market_regulation", "严重违法失信企业名单"
        if kind == "red_list":
            sector = self.rnd.choice(("tax", "market_regulation", "labour", "environment"))
            return (sector if on_firm else "general"), f"{city.name}市守信红名单"
        if kind == "honour":
            if on_firm:
                return "market_regulation", "守合同重信用企业"
            return "general", self.rnd.choice(("见义勇为先进个人", "无偿献血奉献奖"))
        if city.city is City.CHAOZHOU and self.chance(0.4):
            return "general", CHAOZHOU_BAD_CREDIT_LIST
        lists = FIRM_BLACKLISTS if on_firm else PERSON_BLACKLISTS
        sector = self.rnd.choice(tuple(lists))
        return sector, f"{city.name}市{lists[sector]}"

    def issued(self, sector: str, city: CityProfile, decided: date, *, negative: bool) -> Row:
        """Who issued a record, under which rule and document number."""
        department, name, short = SECTOR_AUTHORITIES[sector]
        serial = self.rnd.randint(1, 3000)
        return {
            "sector": sector,
            "authority_code": _authority_code(city.city.value, department),
            "authority_name": name.format(city=city.name),
            "legal_basis": LEGAL_BASES[sector],
            "decision_number": (
                f"{city.abbreviation}{short}{'罚' if negative else ''}〔{decided.year}〕{serial}号"
            ),
        }

    def description(self, kind: str, sector: str) -> str:
        if kind == "admin_penalty":
            if self.chance(0.7):
                return f"警告，罚款人民币{self.rnd.randint(1, 200) * 1000}元"
            return "责令停产停业，没收违法所得"
        if kind == "abnormal_operation":
            return self.rnd.choice(("未按规定报送年度报告", "通过登记的住所无法联系"))
        if kind == "serious_violation":
            return "被列入经营异常名录届满3年仍未履行相关义务"
        if kind == "blacklist":
            return f"违反{LEGAL_BASES[sector]}规定，情节严重"
        return "经评审认定"

    def record_status(self, kind: str, city: CityProfile, valid_to: date | None) -> str:
        """Expired once valid_to has passed; else mostly active, repaired or under objection
        only where the city has those processes, and only negative records repaired."""
        if valid_to is not None and valid_to < AS_OF and self.chance(0.9):
            return "expired"
        roll = self.rnd.random()
        if roll < 0.06 and city.repair and kind not in POSITIVE_KINDS:
            return "repaired"
        if roll < 0.09:
            return "revoked"
        if roll < 0.13 and city.objection:
            return "under_objection"
        return "active"

    def status_changes(
        self, record_id: str, kind: str, status: str, city: CityProfile, decided: date
    ) -> None:
        """Changes published after ~5% of current records: repairs, revocations, objections."""
        if status not in ("active", "under_objection") or not self.chance(0.05):
            return
        if status == "under_objection":
            changes = ["objection_closed"]
        else:
            options = ["revoked", "expired"]
            options += ["repaired"] if city.repair and kind not in POSITIVE_KINDS else []
            options += ["objection_opened"] if city.objection else []
            changes = [self.rnd.choice(options)]
            if changes[0] == "objection_opened" and self.chance(0.5):
                changes.append("objection_closed")
        day = decided
        for k, change in enumerate(changes):
            day = self.day_between(day + timedelta(days=1), AS_OF)
            repaired = change == "repaired"
            row: Row = {
                "change_id": f"{record_id}-C{k}",
                "record_id": record_id,
                "source_system": city.system,
                "change": change,
                "effective_on": day,
                "decision_number": f"{city.abbreviation}信修〔{day.year}〕{k + 1}号"
                if repaired
                else None,
                "note": "信用修复申请已通过" if repaired else None,
            }
            self.emit("status_changes.csv", row)

    def responsible_person(self, firm: int, record_id: str, decided: date) -> None:
        """The person responsible for a firm's penalty (主要责任人), scoped to that matter."""
        row: Row = {
            "person_id_number": self.person_ref(self.officer()),
            "company_id": self.firm_ref(firm),
            "role": "responsible_person",
            "matter": record_id,
            "valid_from": decided,
            "source_record": f"RP-{record_id}",
        }
        self.emit("roles.csv", row)

    def court_debtor(self, r: int) -> None:
        """An entry of the courts' dishonest-judgment-debtor list (失信被执行人)."""
        if self.chance(0.6):
            firm = self.rnd.randrange(self.n)
            subject, city = self.firm_ref(firm), CITIES[self.firm_city[firm]]
        else:
            subject = self.person_ref(self.rnd.randrange(len(self.people)))
            city = CITIES[self.city()]
        region, district = self.rnd.choice(city.districts)
        court = _court_name(city, district)
        filed = self.day_between(date(2016, 1, 1), AS_OF - timedelta(days=100))
        listed = filed + timedelta(days=self.rnd.randint(5, 90))
        valid_to = listed + timedelta(days=730)  # two years, unless the court extends it
        code = f"{city.province}{region[2:]}"
        record_id = f"ZX{listed.year}{region}{r:07d}"
        status = self.debtor_status(city, valid_to)
        row: Row = {
            "record_id": record_id,
            "subject_id": subject,
            "kind": "dishonest_debtor",
            "sector": "judicial",
            "list_name": "失信被执行人名单",
            "authority_code": _court_code(region),
            "authority_name": court,
            "court": court,
            "case_number": f"（{filed.year}）{code}执{self.rnd.randint(1, 9999)}号",
            "legal_basis": DEBTOR_LEGAL_BASIS,
            # the judgment the court enforces (执行依据)
            "enforcement_basis": (
                f"（{filed.year - 1}）{code}民初{self.rnd.randint(1, 9999)}号民事判决书"
            ),
            "decision_date": filed,
            "published_on": listed,
            "valid_from": listed,
            "valid_to": valid_to,
            "obligation": f"支付货款人民币{self.rnd.randint(2, 900) * 1000:,}元及利息",
            "performance": PERFORMANCE.draw(self.rnd),
            "dishonest_behaviour": self.rnd.choice(DISHONEST_BEHAVIOURS),
            "status": status,
            "disclosure": "public",
            "city": city.city.value,
            "source_system": DEBTOR_SYSTEM,
        }
        self.emit("court_debtors.csv", row)
        if status == "active" and self.chance(0.05):  # the court pushes a revocation
            self.court_revocation(record_id, listed, code)

    def debtor_status(self, city: CityProfile, valid_to: date) -> str:
        if valid_to < AS_OF and self.chance(0.8):
            return "expired"
        status = DEBTOR_STATUSES.draw(self.rnd)
        return "active" if status == "under_objection" and not city.objection else status

    def court_revocation(self, record_id: str, listed: date, code: str) -> None:
        day = self.day_between(listed + timedelta(days=1), AS_OF)
        row: Row = {
            "change_id": f"{record_id}-R",
            "record_id": record_id,
            "source_system": DEBTOR_SYSTEM,
            "change": "revoked",
            "effective_on": day,
            "decision_number": f"（{day.year}）{code}执恢{self.rnd.randint(1, 999)}号",
            "note": "被执行人已履行全部义务，删除失信信息",
        }
        self.emit("status_changes.csv", row)


def _uscc_type(kind: int) -> tuple[str, str]:
    """Registering authority and type (USCC positions 1-2): 91 firm, 92 individual, 12, 51."""
    if kind == INDIVIDUAL:
        return "9", "2"
    if kind == INSTITUTION:
        return "1", "2"
    if kind == SOCIAL:
        return "5", "1"
    return "9", "1"


DOCUMENTS = (
    ("hk_macao", "HK"),
    ("hk_macao", "HK"),
    ("hk_macao", "MO"),
    ("taiwan", "TW"),
    ("taiwan", "TW"),
    ("passport", "SG"),
    ("passport", "US"),
    ("passport", "JP"),
    ("foreign_permanent", "US"),
)


# --- dirty rows: each one breaks a rule, and nothing refers to it -----------------------------
#
# A dirty row never names a party of its own that others could refer to: its identifiers come
# from ranges no clean row uses (`MB`/`MC`/`MD` organisation codes, PHANTOM_REGION), and the
# clean parties it names (drawn at random) stay valid. So the load rejects it, and only it.


def _dirty_legal_person(reg: _Registry) -> Row:
    reg.phantoms += 1
    uscc = make_uscc("9", "1", "350206", "MB" + _base31(reg.phantoms, 6))
    row: Row = {"uscc": uscc, "name": f"厦门{reg.trade_name()}贸易有限公司", "kind": "enterprise"}
    fault = reg.rnd.randrange(7)
    if fault == 0:  # wrong check character
        row["uscc"] = uscc[:-1] + USCC_ALPHABET[(USCC_ALPHABET.index(uscc[-1]) + 1) % 31]
    elif fault == 1:
        row["registered_on"] = "2019-02-30"
    elif fault == 2:
        row["kind"] = "外资企业"
    elif fault == 3:
        row["name"] = ""
    elif fault == 4:  # an individual business with neither USCC nor registration number
        row.update(uscc=None, kind="individual_business")
    elif fault == 5:
        row["registered_capital"] = "五十万"
    else:  # a valid organisation code, but not the one inside the USCC
        row["org_code"] = reg.phantom_org_code()
    return row


def _dirty_legacy_identifier(reg: _Registry) -> Row:
    row: Row = {  # by default a valid organisation code, but not the one inside the USCC
        "uscc": reg.firm_refs[0],  # legal person 0 always has a USCC
        "legacy_type": "org_code",
        "legacy_code": reg.phantom_org_code(),
    }
    fault = reg.rnd.randrange(4)
    if fault == 1:  # a registration number with a wrong check digit
        reg.phantoms += 1
        first14 = f"350203{reg.phantoms:08d}"
        wrong = (int(registration_number_check_digit(first14)) + 1) % 10
        row.update(legacy_type="registration_number", legacy_code=f"{first14}{wrong}")
    elif fault == 2:  # a tax number of a USCC nobody registered
        row.update(uscc=reg.phantom_uscc(), legacy_type="tax_number", legacy_code="350203" * 3)
    elif fault == 3:
        row.update(legacy_type="licence_number", legacy_code="350203" * 3)
    return row


def _dirty_natural_person(reg: _Registry) -> Row:
    number = reg.phantom_resident()
    row: Row = {"id_type": "resident", "id_number": number, "name": reg.person_name("M")}
    fault = reg.rnd.randrange(6)
    if fault == 0:
        row["id_number"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    elif fault == 1:  # the check character is right, the birth date impossible
        first17 = f"{PHANTOM_REGION}19900230{reg.phantoms % 100:02d}1"
        row["id_number"] = first17 + resident_id_check_char(first17)
    elif fault == 2:
        row["sex"] = "F"  # the number says M
    elif fault == 3:
        row["name"] = None
    elif fault == 4:
        row.update(id_type="passport", id_number=f"E{reg.phantoms:08d}")  # without a country
    else:
        row["id_type"] = "military_id"
    return row


def _dirty_role(reg: _Registry) -> Row:
    reg.phantoms += 1
    row: Row = {
        "person_id_number": reg.any_person(),
        "company_id": reg.any_firm(),
        "role": "director",
        "valid_from": date(2020, 1, 1),
        "source_record": f"RX-{reg.phantoms}",
    }
    fault = reg.rnd.randrange(6)
    if fault == 0:
        row["role"] = "janitor"
    elif fault == 1:
        row["person_id_number"] = reg.phantom_resident()
    elif fault == 2:
        row["company_id"] = reg.phantom_uscc()
    elif fault == 3:
        row["valid_to"] = date(2019, 6, 30)  # before valid_from
    elif fault == 4:
        row["valid_from"] = "2020-13-01"
    else:
        row["source_record"] = None
    return row


def _dirty_shareholding(reg: _Registry) -> Row:
    reg.phantoms += 1
    company = reg.any_firm()
    row: Row = {
        "holder_id": reg.any_person(),
        "company_id": company,
        "stake": 0.1,
        "source_record": f"SX-{reg.phantoms}",
    }
    fault = reg.rnd.randrange(5)
    if fault == 0:
        row["stake"] = "1.5"
    elif fault == 1:
        row["holder_id"] = company  # a company holding itself
    elif fault == 2:
        row["holder_id"] = reg.phantom_uscc()
    elif fault == 3:
        row["subscribed_capital"] = "五万元"  # not a number
    else:
        row["company_id"] = None
    return row


def _dirty_firm_relation(reg: _Registry) -> Row:
    reg.phantoms += 1
    source = reg.any_firm()
    row: Row = {
        "from_id": source,
        "to_id": reg.any_firm(),
        "relation": "supplies",
        "source_record": f"FX-{reg.phantoms}",
    }
    fault = reg.rnd.randrange(4)
    if fault == 0:
        row["relation"] = "partners_with"
    elif fault == 1:
        row["to_id"] = source  # a relation needs two parties
    elif fault == 2:
        row["to_id"] = reg.phantom_uscc()
    else:
        row["amount"] = "五十万元"
    return row


def _dirty_record(reg: _Registry, *, court: bool = False) -> Row:
    reg.phantoms += 1
    row: Row = {
        "record_id": f"X{reg.phantoms:09d}",
        "subject_id": reg.any_firm(),
        "kind": "dishonest_debtor" if court else "admin_penalty",
        "status": "active",
        "disclosure": "public",
        "decision_date": date(2021, 5, 6),
        "court": "厦门市思明区人民法院" if court else None,
        "case_number": f"（2021）闽0203执{reg.phantoms}号" if court else None,
        "source_system": DEBTOR_SYSTEM if court else CITIES[0].system,
    }
    fault = reg.rnd.randrange(7)
    if fault == 0:
        row["kind"] = "warning"
    elif fault == 1:
        row["subject_id"] = reg.phantom_uscc()
    elif fault == 2:
        row["status"] = "pending"
    elif fault == 3:
        row["disclosure"] = "secret"
    elif fault == 4:
        row["decision_date"] = "2021-02-29"
    elif fault == 5:
        row["record_id"] = None
    elif court:  # a debtor's ID number with a wrong check character
        number = reg.phantom_resident()
        row["subject_id"] = number[:-1] + ("0" if number[-1] != "0" else "1")
    else:  # a grade without its value
        row.update(kind="grade", scheme="tax", grade=None)
    return row


def _dirty_court_debtor(reg: _Registry) -> Row:
    return _dirty_record(reg, court=True)


def _dirty_status_change(reg: _Registry) -> Row:
    reg.phantoms += 1
    row: Row = {
        "change_id": f"CX-{reg.phantoms}",
        "record_id": f"NO-SUCH-{reg.phantoms}",
        "source_system": CITIES[0].system,
        "change": "repaired",
        "effective_on": date(2024, 1, 2),
    }
    fault = reg.rnd.randrange(3)
    if fault == 1:
        row["change"] = "deleted"
    elif fault == 2:
        row["effective_on"] = None
    return row


DIRTY_MAKERS: dict[str, Callable[[_Registry], Row]] = {
    "legal_persons.csv": _dirty_legal_person,
    "legacy_identifiers.csv": _dirty_legacy_identifier,
    "natural_persons.csv": _dirty_natural_person,
    "roles.csv": _dirty_role,
    "shareholdings.csv": _dirty_shareholding,
    "firm_relations.csv": _dirty_firm_relation,
    "records.csv": _dirty_record,
    "court_debtors.csv": _dirty_court_debtor,
    "status_changes.csv": _dirty_status_change,
}


# --- entry point ----------------------------------------------------------------------------------


def foreign_files(out_dir: Path) -> list[str]:
    """The files of `out_dir` that `generate` would replace but did not write itself: a folder
    without a registry manifest of an earlier run may hold a real extract of the same names."""
    if _generated_before(out_dir / "manifest.json"):
        return []
    return sorted(name for name in HEADERS if (out_dir / name).exists())


def _generated_before(manifest: Path) -> bool:
    try:
        written = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(written, dict) and {"seed", "enterprises"} <= written.keys()


def generate(out_dir: Path, enterprises: int, seed: int) -> Manifest:
    """Write the registry of `enterprises` legal persons into `out_dir`, with `manifest.json`.

    Same arguments, byte-identical files. Time and output grow linearly with `enterprises`;
    memory holds one reference and a few bytes per party.
    """
    if enterprises < 1:
        raise ValueError("enterprises must be at least 1")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(seed=seed, enterprises=enterprises)
    with ExitStack() as stack:
        registry = _Registry(enterprises, seed, _Files(out_dir, stack, manifest))
        registry.legal_persons()
        registry.natural_persons()
        registry.relations()
        registry.credit_records()
        registry.top_up_dirty()
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest
