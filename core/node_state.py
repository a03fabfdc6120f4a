"""The name of the file the development node runtime writes into a node's datadir.

``manage.py bitcoind start`` (devtools) writes the node's RPC URL and credentials there
and the node client (``custody.node``) reads it. Standard library only, so the runtime
can use it before the project's virtualenv exists.
"""

STATE_FILE_NAME = "alatau-node.json"
