"""Classification: the type, category and urgency of an appeal, and who decided each (rules.py,
pure, with the shipped rules file classification_rules.yaml)."""
