"""Choices of the finance app: kinds of rules, the small chart of accounts, transaction kinds."""

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.organizations.choices import Level

#: 100 % in basis points: rates and shares are integers of 1/10,000, never floats
BP = 10_000


class RuleKind(models.TextChoices):
    """What a rule sets. The unit of ``Rule.value`` depends on the kind (see VALUE_UNIT)."""

    UNION_FEE_RATE = "union_fee_rate", _("Union fee rate (of the social-insurance salary fund)")
    DUES_RATE = "dues_rate", _("Dues rate (of the member's social-insurance salary)")
    DUES_CAP = "dues_cap", _("Highest dues (of the base salary)")
    DUES_FLOOR = "dues_floor", _("Lowest dues (of the base salary)")
    BASE_SALARY = "base_salary", _("Base salary (lương cơ sở)")
    UNION_FEE_EXEMPT = "union_fee_exempt", _("Union fee not collected from an employer type")
    DUES_EXEMPT = "dues_exempt", _("Dues not collected from members at an employer type")
    UNION_FEE_SHARE = "union_fee_share", _("Share of the union fee kept by a level")
    DUES_SHARE = "dues_share", _("Share of dues kept by a level")


class ValueUnit(models.TextChoices):
    BASIS_POINTS = "bp", _("basis points (1/10,000)")
    DONG = "dong", _("đồng")
    FLAG = "flag", _("1 = yes, 0 = no")


VALUE_UNIT = {
    RuleKind.UNION_FEE_RATE: ValueUnit.BASIS_POINTS,
    RuleKind.DUES_RATE: ValueUnit.BASIS_POINTS,
    RuleKind.DUES_CAP: ValueUnit.BASIS_POINTS,
    RuleKind.DUES_FLOOR: ValueUnit.BASIS_POINTS,
    RuleKind.BASE_SALARY: ValueUnit.DONG,
    RuleKind.UNION_FEE_EXEMPT: ValueUnit.FLAG,
    RuleKind.DUES_EXEMPT: ValueUnit.FLAG,
    RuleKind.UNION_FEE_SHARE: ValueUnit.BASIS_POINTS,
    RuleKind.DUES_SHARE: ValueUnit.BASIS_POINTS,
}

SHARE_KINDS = (RuleKind.UNION_FEE_SHARE, RuleKind.DUES_SHARE)
EXEMPT_KINDS = (RuleKind.UNION_FEE_EXEMPT, RuleKind.DUES_EXEMPT)

#: the levels that keep a share of what is collected, from the bottom up
SHARE_LEVELS = [Level.GRASSROOTS, Level.UPPER_GRASSROOTS, Level.PROVINCE, Level.NATIONAL]


class Source(models.TextChoices):
    """What money is for (the same values as payments.choices.Source)."""

    UNION_FEE = "union_fee", _("Union fee")
    DUES = "dues", _("Dues")


SHARE_KIND_OF = {Source.UNION_FEE: RuleKind.UNION_FEE_SHARE, Source.DUES: RuleKind.DUES_SHARE}


class PayerKind(models.TextChoices):
    """Who pays (the same values as payments.choices.PayerKind)."""

    EMPLOYER = "employer", _("Employer (union fee)")
    MEMBER = "member", _("Member (dues)")


class ReliefKind(models.TextChoices):
    """A decision that lowers or delays an employer's union fee (Law 50/2024/QH15: up to 12 months)."""

    EXEMPTION = "exemption", _("Exemption")
    REDUCTION = "reduction", _("Reduction")
    SUSPENSION = "suspension", _("Suspension (paid after it ends)")


#: longest exemption, reduction or suspension, in months
MAX_RELIEF_MONTHS = 12


class DeclarationSource(models.TextChoices):
    FORM = "form", _("Entered on the form")
    XLSX = "xlsx", _("Imported from Excel")
    API = "api", _("Sent through the API")


class AccountType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Fund")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")


class AccountCode(models.TextChoices):
    """The small chart of accounts every unit keeps (codes after the Vietnamese union chart)."""

    CASH = "111", _("Cash")
    BANK = "112", _("Bank deposits")
    RECEIVABLE_UNION_FEE = "1311", _("Union fee receivable")
    RECEIVABLE_DUES = "1312", _("Dues receivable")
    RECEIVABLE_LOWER = "136", _("Receivable from lower levels (their shares due to us)")
    PAYABLE_UPPER = "336", _("Payable to upper levels (their shares)")
    FUND = "411", _("Fund balance")
    REVENUE_UNION_FEE = "5111", _("Union fee revenue (our share)")
    REVENUE_DUES = "5112", _("Dues revenue (our share)")
    REVENUE_OTHER = "518", _("Other revenue")
    EXPENSE = "611", _("Expenses")


ACCOUNT_TYPE = {
    AccountCode.CASH: AccountType.ASSET,
    AccountCode.BANK: AccountType.ASSET,
    AccountCode.RECEIVABLE_UNION_FEE: AccountType.ASSET,
    AccountCode.RECEIVABLE_DUES: AccountType.ASSET,
    AccountCode.RECEIVABLE_LOWER: AccountType.ASSET,
    AccountCode.PAYABLE_UPPER: AccountType.LIABILITY,
    AccountCode.FUND: AccountType.EQUITY,
    AccountCode.REVENUE_UNION_FEE: AccountType.REVENUE,
    AccountCode.REVENUE_DUES: AccountType.REVENUE,
    AccountCode.REVENUE_OTHER: AccountType.REVENUE,
    AccountCode.EXPENSE: AccountType.EXPENSE,
}

_SUB_ACCOUNT = re.compile(r"^[a-z0-9_-]{1,24}$")


def base_code(code: str) -> str | None:
    """The chart account of a code: itself, or the part before the dot of a sub-account ("611.events" → "611");
    None when the code is not in the chart."""
    base, dot, sub = (code or "").partition(".")
    if base not in AccountCode.values or (dot and not _SUB_ACCOUNT.match(sub)):
        return None
    return base


def account_type(code: str) -> str:
    return ACCOUNT_TYPE[base_code(code)]


#: accounts whose balance is normally on the debit side (debit − credit); the others credit − debit
DEBIT_NORMAL = {AccountType.ASSET, AccountType.EXPENSE}

REVENUE_ACCOUNT_OF = {Source.UNION_FEE: AccountCode.REVENUE_UNION_FEE, Source.DUES: AccountCode.REVENUE_DUES}


class TransactionKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    RECEIPTS = "receipts", _("Receipts of a statement")
    REMITTANCE = "remittance", _("Remittance to the upper level")
    EXPENSE = "expense", _("Expense")
    OPENING = "opening", _("Opening balance")
    MANUAL = "manual", _("Other entry")
    REVERSAL = "reversal", _("Reversal")


#: VietQR: NAPAS bank identification numbers (BIN) of the banks unions use most (public list of NAPAS members)
BANK_BINS = [
    ("970436", "Vietcombank"),
    ("970415", "VietinBank"),
    ("970418", "BIDV"),
    ("970405", "Agribank"),
    ("970407", "Techcombank"),
    ("970422", "MB Bank"),
    ("970416", "ACB"),
    ("970432", "VPBank"),
    ("970423", "TPBank"),
    ("970403", "Sacombank"),
    ("970437", "HDBank"),
    ("970441", "VIB"),
    ("970443", "SHB"),
    ("970431", "Eximbank"),
    ("970426", "MSB"),
    ("970448", "OCB"),
    ("970409", "Bac A Bank"),
    ("970440", "SeABank"),
    ("970454", "Viet Capital Bank"),
    ("970452", "Kienlongbank"),
    ("970449", "LPBank"),
    ("970412", "PVcomBank"),
]
BANK_NAME_OF_BIN = dict(BANK_BINS)
