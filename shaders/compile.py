#!/usr/bin/env python3
"""Compiles one compute shader to SPIR-V with glslc (writing a depfile, so
that editing an included file rebuilds it) and checks the result with
spirv-val. Usage: compile.py GLSLC SPIRV_VAL INPUT OUTPUT DEPFILE [-DNAME...]"""
import os
import subprocess
import sys


def main():
    glslc, spirv_val, src, out, dep = sys.argv[1:6]
    defines = sys.argv[6:]
    cmd = [glslc, '--target-env=vulkan1.2', '-fshader-stage=compute', '-O',
           '-MD', '-MF', dep, '-MT', out, *defines, '-o', out, src]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        return r.returncode
    r = subprocess.run([spirv_val, '--target-env', 'vulkan1.2', out])
    if r.returncode != 0:
        os.unlink(out)
        print(f'compile.py: spirv-val rejected {out}', file=sys.stderr)
        return r.returncode
    return 0


if __name__ == '__main__':
    sys.exit(main())
