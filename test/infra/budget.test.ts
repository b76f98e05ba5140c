import { Template } from 'aws-cdk-lib/assertions';
import { Budget } from '../../lib/budget';
import {
  defaultTrackingStack,
  only,
  type SynthesizedTrackingStack,
  synthTrackingStack,
  unbundledStack,
} from '../support/synth';

const EMAIL = 'ops@example.com';

describe('the cost budget (-c budgetUsd=N)', () => {
  it('is not created by default', () => {
    // GIVEN the app as bin/app.ts builds it, without budgetUsd
    const { template } = defaultTrackingStack();

    // THEN there is no budget, and no cost allocation tag on the resources
    template.resourceCountIs('AWS::Budgets::Budget', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain('"Key":"app"');
  });

  describe('with budgetUsd and alarmEmail', () => {
    let synthesized: SynthesizedTrackingStack;
    beforeAll(() => {
      // GIVEN the stack with a 25 USD budget and an alarm address, synthesized
      synthesized = synthTrackingStack({ budgetUsd: 25, alarmEmail: EMAIL }, 'Tracking');
    });
    const budget = () => only(Object.values(synthesized.template.findResources('AWS::Budgets::Budget'))).Properties;

    it('limits monthly cost to N USD', () => {
      // THEN it is one monthly COST budget of 25 USD
      expect(budget().Budget).toMatchObject({
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: 25, Unit: 'USD' },
      });
    });

    it('e-mails the alarm address at 80 % and 100 % actual and 100 % forecast', () => {
      // THEN the three notifications, each to the alarm address by e-mail
      const notifications = budget().NotificationsWithSubscribers as any[];
      expect(notifications.map((n) => n.Notification)).toEqual(
        [
          ['ACTUAL', 80],
          ['ACTUAL', 100],
          ['FORECASTED', 100],
        ].map(([type, threshold]) => ({
          NotificationType: type,
          ComparisonOperator: 'GREATER_THAN',
          Threshold: threshold,
          ThresholdType: 'PERCENTAGE',
        })),
      );
      for (const n of notifications) expect(n.Subscribers).toEqual([{ SubscriptionType: 'EMAIL', Address: EMAIL }]);
    });

    it('counts only costs tagged app=<stack name>, the tag every resource of the stack carries', () => {
      // THEN the budget filters on the cost allocation tag
      expect(budget().Budget.CostFilters).toEqual({ TagKeyValue: ['user:app$Tracking'] });
      // AND the table, a function and the state machine carry it
      const tagged = (type: string) =>
        Object.values(synthesized.json.Resources).filter(
          (r: any) =>
            r.Type === type && JSON.stringify(r.Properties ?? {}).includes('{"Key":"app","Value":"Tracking"}'),
        );
      for (const type of ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine'])
        expect(tagged(type).length).toBeGreaterThan(0);
      // AND not the dashboard, whose Tags cfn-lint refuses
      expect(tagged('AWS::CloudWatch::Dashboard')).toEqual([]);
    });
  });

  it('refuses budgetUsd without alarmEmail, saying what to pass', () => {
    // WHEN budgetUsd is set without alarmEmail THEN synthesis stops with the fix
    expect(() => synthTrackingStack({ budgetUsd: 25 })).toThrow(/budgetUsd needs alarmEmail.*-c alarmEmail=/);
  });

  it.each([0, -5, Number.NaN, Infinity])('refuses a limit of %p USD', (limitUsd) => {
    // GIVEN a stack WHEN the budget gets a limit that is not a positive number THEN it throws
    expect(() => new Budget(unbundledStack(), 'Budget', { limitUsd, email: EMAIL })).toThrow(
      /budgetUsd must be a positive number/,
    );
  });

  it('refuses a bad number through the stack too', () => {
    // WHEN the stack gets a negative budget THEN it throws before synthesizing a budget
    expect(() => synthTrackingStack({ budgetUsd: -1, alarmEmail: EMAIL })).toThrow(
      /budgetUsd must be a positive number/,
    );
  });

  it('puts the tag value it is given into the filter', () => {
    // GIVEN a budget with an explicit tag value
    const stack = unbundledStack();
    new Budget(stack, 'Budget', { limitUsd: 10.5, email: EMAIL, tagValue: 'video-tracking' });

    // THEN the filter names it, and the limit keeps its fraction
    Template.fromStack(stack).hasResourceProperties('AWS::Budgets::Budget', {
      Budget: { BudgetLimit: { Amount: 10.5, Unit: 'USD' }, CostFilters: { TagKeyValue: ['user:app$video-tracking'] } },
    });
  });
});
