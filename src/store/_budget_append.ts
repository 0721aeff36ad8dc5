import type {
  BudgetAnswer,
  BudgetReservationRequest,
} from "./budget_records.ts";
import { ReservationNotGranted, type Store } from "./store.ts";

// A reservation an append carries (`AppendOptions.reservation`) made as a
// write of its own before it, for a store that does not fold it into the
// append's statement. The answers are the same; only atomicity differs,
// and nothing needs it: a reservation made before a refused append is
// kept, as one asked alone would be, and asked again it answers as held.

/** Reserves for an append; throws `ReservationNotGranted` unless granted on its day. */
export async function reserveBeforeAppend(
  store: Pick<Store, "reserveBudget">,
  reservation: BudgetReservationRequest,
): Promise<void> {
  mustBeGranted(reservation, await store.reserveBudget(reservation));
}

/** Throws `ReservationNotGranted` unless `answer` grants `reservation` on its day. */
export function mustBeGranted(
  reservation: BudgetReservationRequest,
  answer: BudgetAnswer,
): void {
  if (!answer.granted || answer.day !== reservation.day) {
    throw new ReservationNotGranted(reservation.key, answer);
  }
}
