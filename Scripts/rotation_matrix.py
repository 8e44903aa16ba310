#!/usr/bin/env python3
"""Rotation matrix: flowhound `tail` and `scan --incremental` under real logrotate, with kill -9.

Drives the shared torture harness (../shared/tools/ingest_harness.py, ingest.md section 7) once per
logrotate strategy and mode, and prints one Markdown table. Cron mode runs
`flowhound scan --incremental --emit-raw` every --cron-every seconds and SIGKILLs a share of the runs at a
random moment; live mode runs `flowhound tail --emit-raw` and SIGKILLs and restarts it every --kill9-every
seconds. Both keep their state in the harness's work directory. By default flowhound writes to a file output
(`--output {dir}/follower.out`, the file the harness checks), which is exactly-once across kill -9: each commit
records the file's length and a restart cuts it back to it. `--sink stdout` writes to the harness's pipe
instead, which is at-least-once (what was written after the last commit is repeated).

A verdict per row:
  ok      every line exactly once
  dup     no loss, some lines repeated (a kill landed between the output flush and the state commit)
  gone    lines lost that are on no file any more: the copytruncate copy->truncate window of logrotate,
          which no reader can recover (logrotate(8)); not a follower bug
  LOSS    lines missing that are still on disk, or garbage lines: a follower bug

Exit status: 0 when no row is LOSS (and, with --exact, no row is dup), 1 otherwise, 2 when the harness or
logrotate is missing. Standard library only.

  Scripts/rotation_matrix.py --flowhound .build/debug/flowhound            # full: 20 s per row
  Scripts/rotation_matrix.py --flowhound .build/debug/flowhound --fast     # 4 s per row (CI)
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys

STRATEGIES = ['create', 'create-compress', 'create-delaycompress', 'dateext', 'dateext-compress', 'copytruncate',
              'copytruncate-compress', 'copytruncate-delaycompress', 'delete-recreate']


def run_row(args, harness, mode, strategy):
    exe = os.path.abspath(args.flowhound)
    sink = ' --output {dir}/follower.out' if args.sink == 'file' else ''
    if mode == 'cron':
        cmd = f'{exe} scan --incremental --emit-raw --state {{dir}}/st.db{sink} {{log}}'
        extra = ['--mode', 'cron', '--cron-every', str(args.cron_every), '--crash-prob', str(args.crash_prob),
                 '--crash-window', str(args.crash_window)]
    else:
        cmd = (f'{exe} tail --emit-raw --from beginning --state {{dir}}/st.db --rotate-grace 1 '
               f'--commit-interval {args.commit_interval}{sink} {{log}}')
        extra = ['--mode', 'live', '--kill9-every', str(args.kill9_every), '--settle', str(args.settle)]
    argv = [sys.executable, harness, '--cmd', cmd, '--strategy', strategy, '--duration', str(args.duration),
            '--rate', str(args.rate), '--rotate-every', str(args.rotate_every), '--hup-lag', str(args.hup_lag),
            '--at-least-once', '--seed', str(args.seed)] + extra
    if args.partial_every:
        argv += ['--partial-every', str(args.partial_every), '--partial-gap', '0.05']
    if args.no_append:
        argv.append('--no-append')
    p = subprocess.run(argv, capture_output=True, text=True)
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {'mode': mode, 'strategy': strategy, 'error': (p.stderr or p.stdout)[-500:]}
    if not args.keep:
        shutil.rmtree(res.get('workdir', ''), ignore_errors=True)
    return res


def verdict(r):
    if 'error' in r:
        return 'ERROR'
    if r['missing_but_still_on_disk'] or r['garbage_lines']:
        return 'LOSS'
    if r['missing_gone_from_disk']:
        return 'gone' + (' + dup' if r['duplicate_lines'] else '')
    return 'dup' if r['duplicate_lines'] else 'ok'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--flowhound', required=True)
    ap.add_argument('--harness', default=None, help='default: ../shared/tools/ingest_harness.py beside the checkout')
    ap.add_argument('--modes', default='cron,live')
    ap.add_argument('--strategies', default=','.join(STRATEGIES))
    ap.add_argument('--duration', type=float, default=20)
    ap.add_argument('--rate', type=float, default=500)
    ap.add_argument('--rotate-every', type=float, default=3)
    ap.add_argument('--hup-lag', type=float, default=0.2)
    ap.add_argument('--cron-every', type=float, default=1)
    ap.add_argument('--crash-prob', type=float, default=0.3)
    ap.add_argument('--crash-window', type=float, default=0.1)
    ap.add_argument('--kill9-every', type=float, default=5)
    ap.add_argument('--commit-interval', type=int, default=0, help='tail --commit-interval in ms')
    ap.add_argument('--settle', type=float, default=3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--partial-every', type=int, default=0, help='every Nth line written in two halves (item 20)')
    ap.add_argument('--no-append', action='store_true', help='writer without O_APPEND (item 10)')
    ap.add_argument('--sink', choices=['file', 'stdout'], default='file',
                    help='file: --output into the checked file (exactly-once); stdout: the pipe (at-least-once)')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--fast', action='store_true', help='4 s rows, rotation every 1 s, kill every 2 s')
    ap.add_argument('--exact', action='store_true', help='fail on repeated lines too')
    ap.add_argument('--keep', action='store_true', help='keep the harness work directories')
    args = ap.parse_args()
    if args.fast:
        for name, value in (('duration', 4), ('rate', 300), ('rotate_every', 1), ('kill9_every', 2), ('cron_every', 0.5),
                            ('settle', 2.5)):
            if getattr(args, name) == ap.get_default(name):
                setattr(args, name, value)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    harness = args.harness or os.path.join(root, '..', 'shared', 'tools', 'ingest_harness.py')
    if not os.path.exists(harness):
        print(f'rotation matrix: harness not found at {harness}', file=sys.stderr)
        return 2
    if not shutil.which('logrotate') and not os.path.exists('/usr/sbin/logrotate'):
        print('rotation matrix: logrotate is not installed (apt-get install logrotate)', file=sys.stderr)
        return 2
    os.environ['PATH'] = os.environ.get('PATH', '') + ':/usr/sbin:/sbin'
    rows = [(m, s) for m in args.modes.split(',') for s in args.strategies.split(',')]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda ms: run_row(args, harness, *ms), rows))
    print(f'rate {args.rate:g} lines/s, {args.duration:g} s, logrotate every {args.rotate_every:g} s, hup lag '
          f'{args.hup_lag:g} s; cron: a run every {args.cron_every:g} s, {args.crash_prob:g} of runs SIGKILLed; '
          f'live: SIGKILL + restart every {args.kill9_every:g} s, commit interval {args.commit_interval} ms'
          + (f'; every {args.partial_every}th line in two writes' if args.partial_every else '')
          + ('; writer without O_APPEND' if args.no_append else '')
          + ('; output: a file (--output)' if args.sink == 'file' else '; output: standard output (a pipe)'))
    print()
    print('| mode | strategy | written | missing (on disk / gone) | repeated | garbage | order breaks | runs (killed) | verdict |')
    print('|---|---|---|---|---|---|---|---|---|')
    bad = 0
    for r in results:
        v = verdict(r)
        if v in ('LOSS', 'ERROR') or (args.exact and 'dup' in v):
            bad += 1
        if 'error' in r:
            print(f"| {r['mode']} | {r['strategy']} | | | | | | | ERROR: {r['error'][-120:]!r} |")
            continue
        killed = r['crashes'] if r['mode'] == 'cron' else r['restarts']
        runs = r['runs'] if r['mode'] == 'cron' else 1 + r['restarts']
        print(f"| {r['mode']} | {r['strategy']} | {r['written']} | {r['missing']} ({r['missing_but_still_on_disk']} / "
              f"{r['missing_gone_from_disk']}) | {r['duplicate_lines']} | {r['garbage_lines']} | {r['order_breaks']} | "
              f"{runs} ({killed}) | {v} |")
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
