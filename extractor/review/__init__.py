"""The local review web app (:mod:`.app`, FastAPI; imported only by ``extractor review``).

Applying reviewers' decisions to records is library code below every app: :mod:`extractor.decisions`
(cells and findings) and :mod:`extractor.crossyear_reviews` (cross-year findings).
"""
