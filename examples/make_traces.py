"""Write examples/traces.jsonl: a small ILLUSTRATIVE trace set in two contrasting styles.

Nothing here came from a real model. Twelve simple problems (integer answers) were written by the
reasonlens maintainers, with hand-written reasoning in two styles:

- ``distilled-32b-example``: R1-distilled-like: ``<think>`` ... ``</think>`` with self-talk
  ("wait", "maybe", "let me", "hmm"), connectors ("but", "alternatively"), re-checks and a second
  approach, then a short answer with ``\\boxed{}``;
- ``zero-rl-32b-example``: zero-RL-like: terse numbered procedural steps, ``\\boxed{}``.

Two samples per problem and model; a few answers are wrong and one distilled sample is truncated
(finish_reason "length", no closing ``</think>``). Re-run: ``python examples/make_traces.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

INSTRUCTION = "\nPlease reason step by step, and put your final answer within \\boxed{}."

# id, problem, gold, distilled content, zero-rl steps
PROBLEMS = [
    dict(pid="ex-01", q="What is the sum of the first 20 positive integers?", gold="210",
         goal="the sum 1 + 2 + ... + 20",
         steps=["The formula for the sum of the first n integers is n(n+1)/2",
                "With n = 20 that is 20 * 21 / 2 = 420 / 2 = 210"],
         check="Pairing 1 with 20, 2 with 19 and so on gives 10 pairs, each adding to 21, "
               "and 10 * 21 = 210",
         alt="add them in groups of five: 15 + 40 + 65 + 90 = 210",
         doubt="does the sum start at 0 or at 1", resolve="starting at 0 adds nothing anyway",
         z=["Use the formula $S = \\frac{n(n+1)}{2}$.", "Substitute $n = 20$: "
            "$S = \\frac{20 \\cdot 21}{2}$.", "Compute: $S = 210$."]),
    dict(pid="ex-02", q="What is the remainder when $2^{10}$ is divided by 7?", gold="2",
         goal="2^10 mod 7",
         steps=["2^3 = 8, which is 1 mod 7", "So 2^9 = (2^3)^3 is 1 mod 7, and 2^10 = 2 * 2^9 "
                "is 2 mod 7"],
         check="2^10 = 1024 and 7 * 146 = 1022, so 1024 - 1022 = 2",
         alt="go through the powers: 2, 4, 1, 2, 4, 1, ... the cycle has length 3, and 10 "
             "leaves remainder 1 when divided by 3, so the answer is the first term, 2",
         doubt="did I get the cycle position right", resolve="10 = 3 * 3 + 1, first position",
         z=["Compute $2^{10} = 1024$.", "Divide: $1024 = 7 \\times 146 + 2$.",
            "The remainder is $2$."],
         z_wrong=dict(ans="4", z=["Compute $2^{10} = 1024$.",
                                  "Divide: $1024 = 7 \\times 145 + 9$, and $9 = 7 + 2$.",
                                  "Since $2^2 = 4$, the remainder is $4$."])),
    dict(pid="ex-03", q="How many positive divisors does 36 have?", gold="9",
         goal="the number of divisors of 36",
         steps=["36 = 2^2 * 3^2", "The number of divisors is (2+1)(2+1) = 9"],
         check="listing them: 1, 2, 3, 4, 6, 9, 12, 18, 36. That is nine",
         alt="count divisor pairs: (1,36), (2,18), (3,12), (4,9), (6,6). Four pairs plus "
             "the square root 6 counted once gives 9",
         doubt="is 6 counted twice", resolve="6 * 6 = 36 is one divisor, counted once",
         z=["Factor: $36 = 2^2 \\cdot 3^2$.", "Apply the divisor formula: "
            "$(2+1)(2+1) = 9$."],
         d_wrong=dict(ans="8", steps=["36 is 6 squared, so its divisors come in pairs",
                                      "The pairs are (1,36), (2,18), (3,12), (4,9), so 4 pairs "
                                      "and 8 divisors"],
                      check="listing them: 1, 2, 3, 4, 9, 12, 18, 36. That is eight",
                      alt="use the formula with 36 = 2^2 * 3^2, which gives (2+1)(2+1) = 9. Hmm, "
                          "that does not match, but my list has 8 and I checked each one",
                      agree="The list looks complete to me")),
    dict(pid="ex-04", q="Solve for $x$: $3x + 7 = 25$.", gold="6",
         goal="x in 3x + 7 = 25",
         steps=["Subtract 7 from both sides: 3x = 18", "Divide by 3: x = 6"],
         check="plugging back in, 3 * 6 + 7 = 18 + 7 = 25. Yes",
         alt="think of it as: what times 3 is 25 - 7 = 18? That is 6",
         doubt="is it 3x + 7 or 3(x + 7)", resolve="the problem says 3x + 7, no parentheses",
         z=["Subtract 7 from both sides: $3x = 18$.", "Divide both sides by 3: $x = 6$."]),
    dict(pid="ex-05", q="A right triangle has legs of length 9 and 12. What is its area?",
         gold="54", goal="the area of a right triangle with legs 9 and 12",
         steps=["The legs are perpendicular, so they serve as base and height",
                "Area = (1/2) * 9 * 12 = 54"],
         check="9 * 12 = 108 and half of 108 is 54",
         alt="use the hypotenuse: it is 15, since 9^2 + 12^2 = 81 + 144 = 225. The altitude "
             "to the hypotenuse is 9 * 12 / 15 = 7.2, and (1/2) * 15 * 7.2 = 54",
         doubt="should I use the hypotenuse 15 somewhere", resolve="no, the legs are enough",
         z=["The area of a right triangle is $\\frac{1}{2} \\times a \\times b$.",
            "Substitute: $\\frac{1}{2} \\times 9 \\times 12 = 54$."],
         z_wrong=dict(ans="108", z=["The area is $a \\times b$.",
                                    "Substitute: $9 \\times 12 = 108$."])),
    dict(pid="ex-06", q="In how many ways can 2 people be chosen from a group of 7?",
         gold="21", goal="7 choose 2",
         steps=["Order does not matter, so this is a combination",
                "C(7,2) = 7 * 6 / 2 = 21"],
         check="counting pairs directly: the first person pairs with 6 others, the second with "
               "5 new ones, and so on: 6 + 5 + 4 + 3 + 2 + 1 = 21",
         alt="count ordered pairs, 7 * 6 = 42, and divide by 2 because each pair is counted "
             "twice: 21",
         doubt="could order matter here", resolve="choosing a pair has no order",
         z=["Use the combination formula $\\binom{7}{2} = \\frac{7 \\cdot 6}{2}$.",
            "Compute: $\\binom{7}{2} = 21$."]),
    dict(pid="ex-07", q="What is the greatest common divisor of 84 and 126?", gold="42",
         goal="gcd(84, 126)",
         steps=["84 = 2^2 * 3 * 7 and 126 = 2 * 3^2 * 7",
                "Taking the lowest powers: 2 * 3 * 7 = 42"],
         check="84 / 42 = 2 and 126 / 42 = 3, and 2 and 3 share no factor",
         alt="use the Euclidean algorithm: 126 = 1 * 84 + 42, then 84 = 2 * 42 + 0, "
             "so the gcd is 42",
         doubt="is 84 = 2^2 * 3 * 7 right", resolve="4 * 3 * 7 = 84, yes",
         z=["Apply the Euclidean algorithm: $126 = 1 \\cdot 84 + 42$.",
            "Next step: $84 = 2 \\cdot 42 + 0$.", "The gcd is $42$."]),
    dict(pid="ex-08", q="If $f(x) = x^2 - 3x + 2$, what is $f(5)$?", gold="12",
         goal="f(5) for f(x) = x^2 - 3x + 2",
         steps=["5^2 = 25 and 3 * 5 = 15", "So f(5) = 25 - 15 + 2 = 12"],
         check="factoring, f(x) = (x - 1)(x - 2), so f(5) = 4 * 3 = 12",
         alt="maybe use the factored form directly: (5 - 1)(5 - 2) = 4 * 3 = 12",
         doubt="is it minus 3x or plus 3x", resolve="it is minus 3x",
         z=["Substitute $x = 5$: $f(5) = 5^2 - 3 \\cdot 5 + 2$.",
            "Evaluate: $25 - 15 + 2 = 12$."]),
    dict(pid="ex-09", q="What is the sum of the interior angles of a hexagon, in degrees?",
         gold="720", goal="the interior angle sum of a hexagon",
         steps=["The formula is (n - 2) * 180 degrees", "For n = 6 that is 4 * 180 = 720"],
         check="a regular hexagon has angles of 120 degrees, and 6 * 120 = 720",
         alt="split the hexagon into triangles from one vertex: that makes 4 triangles, each "
             "with 180 degrees, so 720",
         doubt="is it (n - 2) or (n - 1)", resolve="a triangle, n = 3, gives 180, so n - 2",
         z=["Use the formula $(n-2) \\times 180^\\circ$.",
            "Substitute $n = 6$: $4 \\times 180 = 720$."]),
    dict(pid="ex-10", q="What is the smallest prime number greater than 50?", gold="53",
         goal="the first prime after 50",
         steps=["51 = 3 * 17, so 51 is not prime", "52 is even", "53: not divisible by 2, 3, "
                "5 or 7, and 7^2 = 49 < 53 < 64 = 8^2, so 53 is prime"],
         check="53 / 3 is 17.67, 53 / 7 is 7.57, no integer quotient",
         alt="recall the primes near 50: 47, 53, 59. So after 50 comes 53",
         doubt="is 51 prime", resolve="no, 5 + 1 = 6 is divisible by 3, so 3 divides 51",
         z=["Check 51: $51 = 3 \\times 17$, not prime.", "Check 52: even, not prime.",
            "Check 53: not divisible by 2, 3, 5, 7. Prime."],
         z_wrong=dict(ans="51", z=["Check 51: not divisible by 2, 5 or 7.",
                                   "So 51 is prime."])),
    dict(pid="ex-11", q="How many integers from 1 to 100 are divisible by 3 or 5?",
         gold="47", goal="the count of multiples of 3 or 5 up to 100",
         steps=["Multiples of 3: floor(100/3) = 33", "Multiples of 5: floor(100/5) = 20",
                "Multiples of 15 are counted twice: floor(100/15) = 6",
                "Inclusion-exclusion: 33 + 20 - 6 = 47"],
         check="the multiples of 15 are 15, 30, 45, 60, 75, 90. Six of them",
         alt="count the complement: numbers divisible by neither. Out of every 15 numbers, 7 are "
             "divisible by 3 or 5; 6 full blocks give 42, and 91 to 100 add 93, 95, 96, 99, "
             "100, so 42 + 5 = 47",
         doubt="did I forget the overlap", resolve="I subtracted the 6 multiples of 15",
         z=["Count multiples of 3: $\\lfloor 100/3 \\rfloor = 33$.",
            "Count multiples of 5: $\\lfloor 100/5 \\rfloor = 20$.",
            "Subtract multiples of 15: $\\lfloor 100/15 \\rfloor = 6$.",
            "Total: $33 + 20 - 6 = 47$."],
         z_wrong=dict(ans="53", z=["Count multiples of 3: $\\lfloor 100/3 \\rfloor = 33$.",
                                   "Count multiples of 5: $\\lfloor 100/5 \\rfloor = 20$.",
                                   "Total: $33 + 20 = 53$."]), truncate=True),
    dict(pid="ex-12", q="What is 15% of 240?", gold="36", goal="15 percent of 240",
         steps=["10% of 240 is 24", "5% is half of that, 12", "So 15% is 24 + 12 = 36"],
         check="0.15 * 240 = 36",
         alt="compute 240 * 15 / 100 = 3600 / 100 = 36",
         doubt="is it 15% of 240 or 240% of 15", resolve="15% of 240, and both equal 36 anyway",
         z=["Convert: $15\\% = 0.15$.", "Multiply: $0.15 \\times 240 = 36$."]),
]

OPENERS = ["Okay, so I need to find {goal}. Let me start by writing down what I know.",
           "Alright, let's see. The question asks for {goal}. Hmm, let me think about how to "
           "approach this."]
HEDGES = ["Hmm, ", "So ", "Okay, ", "Right, ", "Well, "]
CHECKS = ["Wait, let me double-check that. {check}.",
          "But wait, maybe I made a mistake. Let me verify: {check}."]
ALTS = ["Alternatively, maybe I can {alt}.", "Let me try another approach to be sure. "
        "I could {alt}."]
DOUBTS = ["Hold on, {doubt}? Let me re-read the problem. Okay, {resolve}.",
          "Wait, {doubt}? Hmm, {resolve}."]
CLOSERS = ["So I think the answer is {ans}.", "Yeah, I'm fairly confident the answer is {ans}."]
Z_OPEN = ["To solve this problem, we follow these steps.", "We solve the problem step by step."]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def distilled(p: dict, rng: random.Random, sample: int, wrong: dict | None, truncate: bool
              ) -> str:
    v = sample % 2
    c = {**p, **(wrong or {})}
    ans = c.get("ans", p["gold"])
    parts = [OPENERS[v].format(goal=p["goal"])]
    for s in c["steps"]:
        parts.append(rng.choice(HEDGES) + s[0].lower() + s[1:] + ".")
    parts.append(CHECKS[v].format(check=_cap(c["check"])))
    parts.append(DOUBTS[1 - v].format(doubt=p["doubt"], resolve=p["resolve"]))
    if truncate:
        parts.append(ALTS[v].format(alt=c["alt"]).split(":")[0] + ": wait, actually, let me "
                     "redo the count of the complement more carefully, because I am not sure "
                     "the blocks of 15 line up with 100. The first block is 1 to 15, the "
                     "second 16 to 30, and then")
        return "<think>\n" + "\n\n".join(parts)
    agree = c.get("agree", f"That gives {ans} as well, so both methods agree")
    parts.append(ALTS[v].format(alt=c["alt"]) + f" {agree}.")
    parts.append(CLOSERS[v].format(ans=ans))
    think = "\n\n".join(parts)
    answer = f"{c['steps'][-1]}.\n\nTherefore, the answer is $\\boxed{{{ans}}}$."
    return f"<think>\n{think}\n</think>\n\n{answer}"


def zero_rl(p: dict, sample: int, wrong: dict | None) -> str:
    c = {**p, **(wrong or {})}
    ans = c.get("ans", p["gold"])
    lines = [Z_OPEN[sample % 2]]
    lines += [f"Step {i}: {s}" for i, s in enumerate(c["z"], 1)]
    lines.append(f"The final answer is $\\boxed{{{ans}}}$.")
    return "\n".join(lines)


def main() -> None:
    rng = random.Random(20250527)
    out = []
    for p in PROBLEMS:
        for sample in (0, 1):
            d_wrong = p.get("d_wrong") if sample == 1 else None
            trunc = bool(p.get("truncate")) and sample == 1
            text = distilled(p, rng, sample, d_wrong, trunc)
            out.append(dict(model="distilled-32b-example", text=text, p=p, sample=sample,
                            finish="length" if trunc else "stop"))
            z_wrong = p.get("z_wrong") if sample == 0 else None
            out.append(dict(model="zero-rl-32b-example", text=zero_rl(p, sample, z_wrong), p=p,
                            sample=sample, finish="stop"))
    path = Path(__file__).with_name("traces.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for r in out:
            p = r["p"]
            rec = {"id": f"{r['model']}:{p['pid']}:{r['sample']}", "model": r["model"],
                   "benchmark": "example", "problem_id": p["pid"], "sample": r["sample"],
                   "prompt": p["q"] + INSTRUCTION, "response": r["text"], "gold": p["gold"],
                   "finish_reason": r["finish"],
                   "completion_tokens": round(len(r["text"].split()) * 1.35),
                   "illustrative": True}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} traces to {path}")


if __name__ == "__main__":
    main()
