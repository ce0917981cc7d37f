"""Joining open positions (issue 23, item 2): the master's entry price, kept with its position."""

from decimal import Decimal

from services.replication import join


def test_the_masters_entry_is_the_average_price_of_what_is_open():
    """The position book keeps the master's average entry: adding averages it, reducing keeps
    it, a flip starts again at the flipping fill's price, flat has none."""
    steps = [(Decimal("1"), Decimal("100"), Decimal("100")), (Decimal("1"), Decimal("200"), Decimal("150")),
             (Decimal("-1"), Decimal("400"), Decimal("150")), (Decimal("-3"), Decimal("90"), Decimal("90")),
             (Decimal("2"), Decimal("80"), None)]
    position, entry = Decimal(0), None
    for signed, price, expected in steps:
        entry = join.entry_after(position, entry, signed, price)
        position += signed
        assert entry == expected, (position, entry)
