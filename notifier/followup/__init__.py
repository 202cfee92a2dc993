"""Follow-up (フォロー分析): who responded to a notice, one reminder, and non-responders become
outreach cases for coordinators."""
