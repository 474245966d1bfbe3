"""Several stations on one clinic (issue 14): this station's name, and what its screens show
and ask when another station times the same visit."""
