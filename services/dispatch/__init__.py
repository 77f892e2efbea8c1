"""Dispatch: routes appeals to the officers who handle them."""
