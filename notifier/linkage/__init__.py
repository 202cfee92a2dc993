"""名寄せ: link school-roster rows (学齢簿, no 宛名番号) to residents, with a review queue for the unsure."""
