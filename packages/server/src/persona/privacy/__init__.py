"""The privacy step: personal data in a run's evidence is pseudonymised before it reaches a
provider not on this machine, and the personas are put back in the participants' words.

Nothing here imports FastAPI or talks to a provider: ``detectors`` find, ``pseudonyms`` name,
``view`` replaces and restores, ``step`` decides when and with what.
"""
