"""Tops up a saved sandbox world so the benchmark's accounts have full
DescribeInstances pages: every region of the first N member accounts gets
clones of its instances (fresh ids) until it holds at least 50.

    topup.py WORLD_IN WORLD_OUT ACCOUNTS_OUT N

Writes the chosen account ids, one a line, to ACCOUNTS_OUT."""

import copy
import json
import sys

PAGE = 50


def main():
    src, dst, accounts_out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(src) as f:
        world = json.load(f)
    members = [a for a in world["accounts"] if not a.get("is_management")][:n]
    serial = 0
    for a in members:
        for region in a["regions"]:
            instances = region["instances"]
            if not instances:
                continue
            originals = list(instances)
            while len(instances) < PAGE:
                clone = copy.deepcopy(originals[serial % len(originals)])
                serial += 1
                clone["id"] = f"i-{0xbe0000000000000 + serial:017x}"
                instances.append(clone)
    with open(dst, "w") as f:
        json.dump(world, f)
    with open(accounts_out, "w") as f:
        f.write("".join(a["id"] + "\n" for a in members))


if __name__ == "__main__":
    main()
