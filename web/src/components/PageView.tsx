import { Content, Flex, FlexItem, PageSection, Title } from '@patternfly/react-core';
import type { ReactNode } from 'react';

/** The frame of every page: title, one-line purpose, primary actions, then the content. */
export function PageView(props: {
  title: string;
  description: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}) {
  return (
    <>
      <PageSection>
        <Flex
          justifyContent={{ default: 'justifyContentSpaceBetween' }}
          alignItems={{ default: 'alignItemsFlexStart' }}
        >
          <FlexItem className="kaas-page-title">
            <Title headingLevel="h1">{props.title}</Title>
            <Content component="p" className="kaas-subtitle">
              {props.description}
            </Content>
          </FlexItem>
          {props.actions && <FlexItem>{props.actions}</FlexItem>}
        </Flex>
      </PageSection>
      <PageSection>{props.children}</PageSection>
    </>
  );
}
