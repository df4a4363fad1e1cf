"""Money as the API takes it: an integer amount of minor units, always with its currency.

No floats anywhere: an amount is an ``int`` of the currency's smallest unit (cents, kobo).
"""

from app.errors import InvalidRequest

AMOUNT_MIN = 1
AMOUNT_MAX = 99_999_999

#: ISO 4217 alpha-3 codes of currencies in circulation (list of 2025), upper-case.
# One block of text reads like the standard's table; a 156-line list literal would not.
ISO_4217_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905
)


def validated_amount(value: object, field: str = "amount") -> int:
    """``value`` when it is an amount in minor units within the limits; else a 400 naming it."""
    # JSON has one number type: 2500.0 is the integer 2500 to JSON Schema (and so to the OpenAPI
    # document), and every amount within the limits is exact as a float. 2500.5 is no amount.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # bool is an int subclass in Python; true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"'{field}' must be an integer in minor units.", field=field)
    if not AMOUNT_MIN <= value <= AMOUNT_MAX:
        raise InvalidRequest(
            f"'{field}' must be between {AMOUNT_MIN} and {AMOUNT_MAX}.", field=field
        )
    return value
