"""Start a two-node Ray cluster on this machine (1 CPU a node, as Ray's own tests
do with ``ray.cluster_utils.Cluster``), write its address to ADDRESS_FILE and keep
it up until killed.

Usage:
    python benchmarks/ray_two_nodes.py ADDRESS_FILE &
    python -m spacy_kd annotate ... --engine ray --address "$(cat ADDRESS_FILE)"
"""

import sys
import time
from pathlib import Path

from ray.cluster_utils import Cluster


def main() -> None:
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    Path(sys.argv[1]).write_text(cluster.address)
    print(cluster.address, flush=True)
    while True:
        time.sleep(5)


if __name__ == "__main__":
    main()
