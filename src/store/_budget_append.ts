import type { BudgetReservationRequest } from "./budget_records.ts";
import {
  type BudgetSettlement,
  ReservationNotGranted,
  type Store,
} from "./store.ts";

// The budget writes an append may carry (`AppendOptions.reservation` and
// `settlements`) made as writes of their own around it, for a store that
// does not fold them into the append's statement. The answers are the
// same; only the atomicity differs, and neither needs it: a reservation
// made before a refused append is kept, as one asked alone would be, and
// asked again it answers as held; a settlement after the append follows a
// release already in the log, from which the next start settles it again.

/** Reserves for an append; throws `ReservationNotGranted` unless granted on its day. */
export async function reserveBeforeAppend(
  store: Pick<Store, "reserveBudget">,
  reservation: BudgetReservationRequest,
): Promise<void> {
  const answer = await store.reserveBudget(reservation);
  if (!answer.granted || answer.day !== reservation.day) {
    throw new ReservationNotGranted(reservation.key, answer);
  }
}

/** Settles what an append released, once it is written. */
export async function settleAfterAppend(
  store: Pick<Store, "settleBudget">,
  settlements: readonly BudgetSettlement[] | undefined,
): Promise<void> {
  if (settlements === undefined) return;
  await Promise.all(
    settlements.map(({ key, charged_cents }) =>
      store.settleBudget(key, charged_cents)
    ),
  );
}
