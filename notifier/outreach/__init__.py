"""Outreach (見守り・アウトリーチ): cases for coordinators under 要対協, who checks on a family, priority
points, and masked sharing with partners."""
