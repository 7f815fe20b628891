"""The phone keypad's input: digits in, a formatted and masked display out.

Formatting uses ``phonenumbers``' ``AsYouTypeFormatter`` for the kiosk's country, so the groups
appear where a local customer expects them (``067 123 45 67``). The display masks every digit
but the last two typed: the customer sees their input grow and can check its end, a passer-by and
a screenshot learn nothing useful. The clear digits never leave this object except through
:meth:`e164` at the moment of identification.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import AsYouTypeFormatter, NumberParseException

from venue.errors import PhoneNumberError
from venue.phone import MASK, normalize

MAX_DIGITS = 15
"""E.164 allows at most 15 digits; further presses are ignored."""


class PhoneInput:
    """Digits typed on the keypad for one region."""

    def __init__(self, region: str) -> None:
        self.region = region.upper()
        self.prefix = f"+{phonenumbers.country_code_for_region(self.region)}"
        self._digits = ""

    def __len__(self) -> int:
        return len(self._digits)

    def press(self, digit: str) -> bool:
        """Add one digit; False when it was ignored (not a digit, or the number is full)."""
        if len(digit) != 1 or not digit.isdigit() or len(self._digits) >= MAX_DIGITS:
            return False
        self._digits += digit
        return True

    def backspace(self) -> None:
        self._digits = self._digits[:-1]

    def clear(self) -> None:
        self._digits = ""

    def formatted(self) -> str:
        """The digits grouped as you type (clear text: for tests, never for the screen)."""
        fmt = AsYouTypeFormatter(self.region)
        out = ""
        for d in self._digits:
            out = fmt.input_digit(d)
        return out

    def display(self) -> str:
        """The formatted digits with all but the last two masked."""
        text = self.formatted()
        total = sum(c.isdigit() for c in text)
        seen = 0
        out: list[str] = []
        for c in text:
            if c.isdigit():
                seen += 1
                out.append(c if seen > total - 2 else MASK)
            else:
                out.append(c)
        return "".join(out)

    def possible(self) -> bool:
        """True when the digits have a possible length for a number of this region."""
        if not self._digits:
            return False
        try:
            number = phonenumbers.parse(self._digits, self.region)
        except NumberParseException:
            return False
        return bool(phonenumbers.is_possible_number(number))

    def e164(self) -> str:
        """The number in E.164.

        Raises:
            PhoneNumberError: not a valid number, with a reason a customer can read.
        """
        if not self._digits:
            raise PhoneNumberError("phone number is empty")
        return normalize(self._digits, self.region)
