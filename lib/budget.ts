import { Stack, Tags } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import { Construct } from 'constructs';
import { parseNumber } from '../lambda/shared/parse-number';

/** The cost allocation tag the budget filters on; activate it in the Billing console (docs/DEPLOY.md#cost-guard). */
export const COST_TAG_KEY = 'app';

/** The e-mail notifications: ACTUAL past 80 % and 100 % of the limit, FORECASTED past 100 %. */
export const BUDGET_NOTIFICATIONS = [
  { notificationType: 'ACTUAL', threshold: 80 },
  { notificationType: 'ACTUAL', threshold: 100 },
  { notificationType: 'FORECASTED', threshold: 100 },
] as const;

/** Why `budgetUsd` is refused without `alarmEmail`, and what to pass. */
export const BUDGET_NEEDS_EMAIL =
  'budgetUsd needs alarmEmail, the address its notifications go to: -c budgetUsd=N -c alarmEmail=you@example.com';

export interface BudgetProps {
  /** The monthly cost limit in USD (`-c budgetUsd=N`); a positive number. */
  readonly limitUsd: number;
  /** The address the budget's notifications go to (`-c alarmEmail=…`). */
  readonly email: string;
  /**
   * The value of the `app` cost allocation tag put on every resource of this construct's stack; the budget counts
   * only costs carrying it.
   *
   * @default - the stack name
   */
  readonly tagValue?: string;
}

/**
 * A monthly AWS Budgets cost budget that e-mails when the stack's costs pass 80 % and 100 % of the limit, or are
 * forecast to pass 100 %. It only alerts: billing data lags by up to a day, so the API's stage throttle and the
 * tenant limit are what bound spend. Tags every resource of its stack but the dashboard `app=<tagValue>` to scope
 * the budget.
 */
export class Budget extends Construct {
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: BudgetProps) {
    super(scope, id);
    const limit = validate(props);
    const stack = Stack.of(this);
    const tagValue = props.tagValue ?? stack.stackName;
    // aws-cdk-lib tags dashboards, but cfn-lint 1.51 (npm run check:template) refuses Tags there; a dashboard costs a
    // fixed $3 a month, so the budget does without it.
    Tags.of(stack).add(COST_TAG_KEY, tagValue, { excludeResourceTypes: ['AWS::CloudWatch::Dashboard'] });

    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: limit, unit: 'USD' },
        // Cost allocation tags appear in billing data as `user:<key>`; `$` separates key and value.
        costFilters: { TagKeyValue: [`user:${COST_TAG_KEY}$${tagValue}`] },
      },
      notificationsWithSubscribers: BUDGET_NOTIFICATIONS.map(({ notificationType, threshold }) => ({
        notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
        subscribers: [{ subscriptionType: 'EMAIL', address: props.email }],
      })),
    });
  }
}

function validate(props: BudgetProps): number {
  // parseNumber reads undefined as "not set"; here the limit is required.
  const limit = parseNumber(props.limitUsd, 'budgetUsd', { whole: false, exclusive: true });
  if (limit === undefined) throw new Error('budgetUsd must be a positive number of USD.');
  if (props.email.trim() === '') {
    throw new Error(BUDGET_NEEDS_EMAIL);
  }
  if (props.tagValue !== undefined && !/^[\w.:/=+@ -]{1,256}$/.test(props.tagValue)) {
    throw new Error(
      `Budget tagValue must be a tag value (up to 256 letters, digits, spaces, _ . : / = + - @), got ${JSON.stringify(props.tagValue)}.`,
    );
  }
  return limit;
}
