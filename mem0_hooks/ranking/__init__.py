"""Where a prompt becomes a ranked list of memories (the local store's recall).

``turns.search_turns`` is the one entry: ``query`` analyses the prompt, ``lexical`` weighs its words
and ranks by them, ``speakers`` says who the prompt is about, and ``turns`` gathers the candidates,
reads the turns around them and gives every turn one score; ``semantic`` adds closeness in meaning
(the prompt's vector against the turns') and, for the block's lead, token by token. The store
(``backends.local``) only reads and writes; nothing here writes.

Imported by the warm process and by hooks that do their own work: nothing here may import more than
the standard library at module level.
"""
