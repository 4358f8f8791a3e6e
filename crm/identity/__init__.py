"""Who is who, as pure rules: identifier kinds and normalisation, name keys and match scores.

Nothing here queries or imports a model, so the models, the resolver (`crm/services/resolution.py`)
and every importer share one definition and each rule is tested on its own.
"""
