"""The offline synthesizer behind the ``local`` provider: corpus, profiles, vectors,
segments, sections, picking, naming; ``synthesizer.synthesize`` runs them in order.

Modules import numpy, scipy and scikit-learn inside functions only, so importing the
package stays cheap.
"""
