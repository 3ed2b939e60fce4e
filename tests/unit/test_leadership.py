"""One process leads: the lease holder gains, the others follow, a resignation or a lease
that runs out hands the lead over."""

from __future__ import annotations

from waddlebot.infra.leadership import Leadership
from waddlebot.infra.memory import MemoryLease


class Process:
    def __init__(self, lease: MemoryLease, name: str) -> None:
        self.steps: list[str] = []
        self.leadership = Leadership(
            lease,
            "sender",
            name,
            on_gain=self.gain,
            on_loss=self.loss,
            on_follow=self.follow,
            on_lead=self.lead,
        )

    async def gain(self) -> None:
        self.steps.append("gain")

    async def loss(self) -> None:
        self.steps.append("loss")

    async def follow(self) -> None:
        self.steps.append("follow")

    async def lead(self) -> None:
        self.steps.append("lead")


async def test_one_leads_and_hands_over() -> None:
    now = [0.0]
    lease = MemoryLease(clock=lambda: now[0])
    first, second = Process(lease, "a"), Process(lease, "b")
    assert await first.leadership.try_lead()
    assert not await second.leadership.try_lead()
    assert await first.leadership.try_lead()  # renewed
    await first.leadership.resign()
    assert await second.leadership.try_lead()
    assert first.steps == ["gain", "lead", "lead", "loss"]  # the chores at each round it leads
    assert second.steps == ["follow", "gain", "lead"]


async def test_a_silent_leader_loses_the_lead_when_its_lease_runs_out() -> None:
    now = [0.0]
    lease = MemoryLease(clock=lambda: now[0])
    first, second = Process(lease, "a"), Process(lease, "b")
    await first.leadership.try_lead()
    now[0] += 21  # longer than the 20 s lease without a renewal
    assert await second.leadership.try_lead()
    assert not await first.leadership.try_lead()  # finds out, and steps down
    assert first.steps == ["gain", "lead", "loss"]
