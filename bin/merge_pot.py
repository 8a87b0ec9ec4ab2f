#!/usr/bin/env python3
"""Merge extra message templates into a .pot file, in place.

    python bin/merge_pot.py translations/messages.pot EXTRA.pot [EXTRA.pot ...]

`make translations-update` uses it to add Flask-AppBuilder's strings (extracted from the
installed package with babel-fab.cfg) to Portico's own messages.pot, so that one catalog
translates both. TARGET keeps its header and its messages in their order; each message of an
EXTRA that TARGET lacks is appended, and a message both have gets the EXTRA's locations, flags
and comments added to its own. Only Babel is needed (no GNU gettext `msgcat`).
"""
import sys

from babel.messages.pofile import read_po, write_po


def merge(target_path, extra_paths):
    with open(target_path, "rb") as f:
        target = read_po(f)
    for path in extra_paths:
        with open(path, "rb") as f:
            extra = read_po(f)
        for msg in extra:
            if not msg.id:  # the header
                continue
            have = target.get(msg.id, msg.context)
            if have is None:
                target[msg.id] = msg
                continue
            have.locations += [loc for loc in msg.locations if loc not in have.locations]
            have.flags |= msg.flags
            have.auto_comments += [c for c in msg.auto_comments if c not in have.auto_comments]
            have.user_comments += [c for c in msg.user_comments if c not in have.user_comments]
    with open(target_path, "wb") as f:
        # No source locations, sorted by msgid: a catalog changes only where a string does, so two
        # branches that each add strings merge without rewriting every "#: file:line" comment.
        write_po(f, target, width=76, no_location=True, sort_output=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    merge(sys.argv[1], sys.argv[2:])
